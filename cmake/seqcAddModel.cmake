#===- seqcAddModel.cmake - Compile seqc models at build time -------------===#
#
# Part of seqc. Defines seqc_add_model(), which compiles a `.nn` model with
# `seqc compile --target cpu` while the app builds and wraps the result in a
# library target, like Halide's add_halide_library:
#
#   seqc_add_model(<target> MODEL <file.nn>
#                  [WEIGHTS <file.safetensors|file.pt>]
#                  [WEIGHTS_PREFIX <prefix>]
#                  [CPU <cpu>...]
#                  [NAME <prefix>]
#                  [INIT_SEED <n>]
#                  [EXTERNAL_WEIGHTS])
#   target_link_libraries(app PRIVATE <target>)
#
# <target> is a STATIC library holding the generated object; its include
# directory holds the generated `<prefix>.h`, so linking it is all an app
# needs (`#include "<prefix>.h"`, call `<prefix>_run`). The object needs no
# runtime; apps that call `<prefix>_run_parallel` with the runtime's thread
# pool also link seqc::runtime.
#
#   MODEL      the network definition; relative paths are taken from the
#              current source directory.
#   WEIGHTS    weights (`seqc compile --weights`: safetensors, or a
#              torch.save checkpoint .pt/.pth/.bin), overriding the file's
#              load_state_dict.
#   WEIGHTS_PREFIX
#              `--weights-prefix`: take only the tensors of WEIGHTS whose keys
#              start with it (a wrapped module's `layers.`, a training
#              checkpoint's `model.`).
#   CPU        `--cpu`: native (the default: the build machine's CPU),
#              x86-64-v2/v3/v4 or an LLVM CPU name; several values (or one
#              comma-separated value) build one multiversioned object that
#              picks the best at run time.
#   NAME       the C prefix of every generated symbol and the header's name;
#              default: the MODEL file's name without `.nn`.
#   INIT_SEED  PyTorch-style random initialisation with this seed instead of
#              weights (`--init-seed`), for benchmarks and tests.
#   EXTERNAL_WEIGHTS
#              `--external-weights`: the packed weights go to
#              `<prefix>.weights` instead of the object; the app loads (or
#              maps, seqc::runtime's seqc_weights_map) that file at run time
#              and passes it to every call. The target's SEQC_WEIGHTS
#              property is its path, to install or copy next to the app.
#
# The model is recompiled when the .nn file, the weights or the seqc
# executable change. Without WEIGHTS or INIT_SEED the file's own
# `load_state_dict("...")` paths are read at configure time and become
# dependencies too (re-run CMake after changing which file it loads).
# Outputs go to `${CMAKE_CURRENT_BINARY_DIR}/<target>.seqc/`. The target
# carries the properties SEQC_PREFIX, SEQC_HEADER and SEQC_OBJECT (and
# SEQC_WEIGHTS with EXTERNAL_WEIGHTS).
#
# Needs an executable target `seqc::seqc` (the installed package's
# seqcConfig.cmake and seqc's own build both define it) and
# SEQC_CPU_BACKEND (whether that seqc has the LLVM CPU backend).
#
#===----------------------------------------------------------------------===#

include_guard(GLOBAL)

function(seqc_add_model target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "EXTERNAL_WEIGHTS"
                        "MODEL;WEIGHTS;WEIGHTS_PREFIX;NAME;INIT_SEED" "CPU")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "seqc_add_model(${target}): unknown arguments: "
                        "${ARG_UNPARSED_ARGUMENTS}")
  endif()
  foreach(keyword IN LISTS ARG_KEYWORDS_MISSING_VALUES)
    message(FATAL_ERROR "seqc_add_model(${target}): ${keyword} needs a value")
  endforeach()
  if(NOT ARG_MODEL)
    message(FATAL_ERROR "seqc_add_model(${target}): MODEL <file.nn> is "
                        "required")
  endif()
  if(TARGET ${target})
    message(FATAL_ERROR "seqc_add_model(${target}): a target of that name "
                        "already exists")
  endif()
  if(NOT TARGET seqc::seqc)
    message(FATAL_ERROR "seqc_add_model(${target}): no seqc::seqc target; "
                        "use find_package(seqc) first")
  endif()
  if(DEFINED SEQC_CPU_BACKEND AND NOT SEQC_CPU_BACKEND)
    message(FATAL_ERROR "seqc_add_model(${target}): this seqc was built "
                        "without the LLVM CPU backend (SEQC_ENABLE_LLVM)")
  endif()

  get_filename_component(model "${ARG_MODEL}" ABSOLUTE
                         BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}" OR IS_DIRECTORY "${model}")
    message(FATAL_ERROR "seqc_add_model(${target}): model file '${model}' "
                        "does not exist")
  endif()

  if(DEFINED ARG_NAME)
    set(prefix "${ARG_NAME}")
  else()
    get_filename_component(prefix "${model}" NAME_WE)
  endif()
  if(NOT prefix MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "seqc_add_model(${target}): '${prefix}' is not a C "
                        "identifier; give the symbol prefix with NAME")
  endif()

  set(args compile "${model}" --target cpu)
  set(depends "${model}")
  if(DEFINED ARG_WEIGHTS_PREFIX AND NOT DEFINED ARG_WEIGHTS)
    message(FATAL_ERROR "seqc_add_model(${target}): WEIGHTS_PREFIX needs "
                        "WEIGHTS")
  endif()
  if(DEFINED ARG_WEIGHTS AND DEFINED ARG_INIT_SEED)
    message(FATAL_ERROR "seqc_add_model(${target}): give WEIGHTS or "
                        "INIT_SEED, not both")
  endif()
  if(DEFINED ARG_WEIGHTS)
    get_filename_component(weights "${ARG_WEIGHTS}" ABSOLUTE
                           BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${weights}" OR IS_DIRECTORY "${weights}")
      message(FATAL_ERROR "seqc_add_model(${target}): weights file "
                          "'${weights}' does not exist")
    endif()
    list(APPEND args --weights "${weights}")
    list(APPEND depends "${weights}")
    if(DEFINED ARG_WEIGHTS_PREFIX)
      list(APPEND args --weights-prefix "${ARG_WEIGHTS_PREFIX}")
    endif()
  elseif(DEFINED ARG_INIT_SEED)
    if(NOT ARG_INIT_SEED MATCHES "^[0-9]+$")
      message(FATAL_ERROR "seqc_add_model(${target}): INIT_SEED must be a "
                          "non-negative integer, not '${ARG_INIT_SEED}'")
    endif()
    list(APPEND args --init-seed "${ARG_INIT_SEED}")
  else()
    # The weights the file loads itself (paths relative to the file).
    file(STRINGS "${model}" loads REGEX "load_state_dict")
    get_filename_component(modelDir "${model}" DIRECTORY)
    foreach(line IN LISTS loads)
      if(line MATCHES "^[^#]*load_state_dict *\\( *[\"']([^\"']+)[\"']")
        get_filename_component(loaded "${CMAKE_MATCH_1}" ABSOLUTE
                               BASE_DIR "${modelDir}")
        if(EXISTS "${loaded}")
          list(APPEND depends "${loaded}")
        endif()
      endif()
    endforeach()
  endif()

  if(ARG_CPU)
    list(JOIN ARG_CPU "," cpus)
    list(APPEND args --cpu "${cpus}")
  endif()

  set(outDir "${CMAKE_CURRENT_BINARY_DIR}/${target}.seqc")
  set(header "${outDir}/${prefix}.h")
  set(object "${outDir}/${prefix}.o")
  set(outputs "${header}" "${object}")
  set(shownOutputs "${prefix}.o and ${prefix}.h")
  if(ARG_EXTERNAL_WEIGHTS)
    set(weightsFile "${outDir}/${prefix}.weights")
    list(APPEND args --external-weights)
    list(APPEND outputs "${weightsFile}")
    set(shownOutputs "${prefix}.o, ${prefix}.h and ${prefix}.weights")
  endif()
  list(APPEND args -o "${outDir}/${prefix}")

  file(MAKE_DIRECTORY "${outDir}")
  file(RELATIVE_PATH shownModel "${CMAKE_SOURCE_DIR}" "${model}")
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND seqc::seqc ${args}
    DEPENDS ${depends} seqc::seqc "$<TARGET_FILE:seqc::seqc>"
    COMMENT "seqc: compiling ${shownModel} to ${shownOutputs}"
    VERBATIM)

  set_source_files_properties("${object}" PROPERTIES EXTERNAL_OBJECT TRUE
                                                     GENERATED TRUE)
  set_source_files_properties("${header}" PROPERTIES HEADER_FILE_ONLY TRUE
                                                     GENERATED TRUE)
  # The archive holds just the generated object; archive it with whichever
  # language the project enabled (the object is language-neutral).
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("C" IN_LIST languages)
    set(linkerLanguage C)
  elseif("CXX" IN_LIST languages)
    set(linkerLanguage CXX)
  else()
    message(FATAL_ERROR "seqc_add_model(${target}): enable C or CXX in "
                        "project() first")
  endif()
  add_library(${target} STATIC "${object}" "${header}")
  set_target_properties(${target} PROPERTIES
    LINKER_LANGUAGE ${linkerLanguage}
    SEQC_PREFIX "${prefix}"
    SEQC_HEADER "${header}"
    SEQC_OBJECT "${object}")
  if(ARG_EXTERNAL_WEIGHTS)
    set_target_properties(${target} PROPERTIES SEQC_WEIGHTS "${weightsFile}")
  endif()
  target_include_directories(${target} INTERFACE "${outDir}")
endfunction()
