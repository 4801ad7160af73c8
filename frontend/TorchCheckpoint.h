//===- TorchCheckpoint.h - Reading torch.save checkpoints -------*- C++ -*-===//
//
// Part of seqc. Since PyTorch 1.6, `torch.save(obj, "x.pt")` writes a zip
// archive (ZipArchive.h) holding, under one top folder (`archive/`, or the
// file's base name):
//   data.pkl    the pickled object (TorchPickle.h), tensors referring to
//               storages by key;
//   data/<key>  each storage's raw elements;
//   version     the format version, a decimal number;
//   byteorder   `little` or `big` (absent in older files: little).
// The reader validates the archive, interprets the pickle without running
// any of it, checks every storage against its entry and every tensor view
// against its storage, and flattens nested dicts (a training checkpoint's
// `{"epoch": 3, "model": {...}, "optimizer": {...}}`) to dotted keys
// (`model.0.weight`); leaves that are not tensors are dropped.
//
//===----------------------------------------------------------------------===//
#ifndef SEQC_FRONTEND_TORCHCHECKPOINT_H
#define SEQC_FRONTEND_TORCHCHECKPOINT_H

#include "frontend/StateDict.h"

#include "compiler/support/Limits.h"

namespace seqc {

/// Longest `data.pkl`; a state_dict's is about 200 bytes per tensor.
inline constexpr uint64_t kMaxTorchPickleBytes = 1ull << 28;

/// Largest checkpoint read: the most parameters a model may have, stored
/// as F64, twice over (a training checkpoint also holds optimizer state),
/// plus the pickle.
inline constexpr uint64_t kMaxTorchCheckpointBytes =
    limits::kMaxParamElements * 16 + kMaxTorchPickleBytes;

/// Deepest nesting of dicts, lists and tuples that is flattened to keys.
inline constexpr unsigned kMaxCheckpointNesting = 64;

/// Most bytes of all the tensors' flattened keys together (shared
/// containers could otherwise repeat long keys without bound).
inline constexpr uint64_t kMaxCheckpointKeyBytes = 1ull << 28;

/// True when \p bytes start like a zip archive (a local header, or the end
/// record of an empty archive).
bool looksLikeZip(std::string_view bytes);

/// True when \p bytes start with the pickled magic number
/// (0x1950a86a20f9469cfc6c) of torch.save's legacy, pre-zip format.
bool looksLikeLegacyTorchCheckpoint(std::string_view bytes);

/// Parses a torch.save zip checkpoint. The returned tensors' loaders keep
/// \p bytes alive. \p verifyChecksums checks each entry's CRC-32 (the fuzz
/// target turns it off to reach the pickle). Problems are reported as
/// `diag.fileError(displayName, ...)`.
std::optional<StateDict>
parseTorchCheckpoint(std::shared_ptr<const std::string> bytes,
                     std::string_view displayName, DiagnosticEngine &diag,
                     bool verifyChecksums = true);

/// The error for a legacy-format file at \p path, with the command that
/// re-saves it.
void reportLegacyTorchCheckpoint(std::string_view path, DiagnosticEngine &diag);

} // namespace seqc

#endif // SEQC_FRONTEND_TORCHCHECKPOINT_H
