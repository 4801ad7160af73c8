//===- Sha256Test.cpp - support/Sha256: the FIPS 180-4 test vectors -------===//
//
// Part of seqc. The digests of the standard short messages, of a million
// 'a's, and of messages around the 55/56/64-byte padding boundaries fed in
// pieces of every size, so that the buffering matches a one-call hash.
//
//===----------------------------------------------------------------------===//

#include "compiler/support/Sha256.h"

#include <doctest/doctest.h>

#include <string>

using namespace seqc;

TEST_CASE("SHA-256 of the FIPS 180-4 examples") {
  CHECK(toHex(Sha256::of("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(toHex(Sha256::of("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(toHex(Sha256::of(
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(toHex(Sha256::of(std::string(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("SHA-256 fed in pieces equals the one-call hash") {
  for (size_t length : {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000}) {
    std::string text;
    for (size_t i = 0; i < length; ++i)
      text += static_cast<char>('a' + i % 26);
    Sha256Digest whole = Sha256::of(text);
    for (size_t piece : {1, 3, 7, 64, 65}) {
      Sha256 h;
      for (size_t at = 0; at < length; at += piece)
        h.update(std::string_view(text).substr(at, piece));
      CHECK_MESSAGE(h.digest() == whole, "length ", length, " piece ", piece);
    }
  }
}

TEST_CASE("SHA-256 updateU64 hashes 8 little-endian bytes") {
  Sha256 a;
  a.updateU64(0x0807060504030201ull);
  CHECK(a.digest() == Sha256::of("\x01\x02\x03\x04\x05\x06\x07\x08"));
}
