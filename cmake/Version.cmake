# Records the git commit at configure time (and "unknown" outside a git checkout).
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  OUTPUT_VARIABLE FEDSAF_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE git_rc ERROR_QUIET)
if(NOT git_rc EQUAL 0 OR FEDSAF_GIT_COMMIT STREQUAL "")
  set(FEDSAF_GIT_COMMIT "unknown")
endif()
if(FEDSAF_WITH_CUDA)
  set(FEDSAF_WITH_CUDA_01 1)
else()
  set(FEDSAF_WITH_CUDA_01 0)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/build_info.hpp.in
               ${PROJECT_BINARY_DIR}/generated/fedsaf/build_info.hpp @ONLY)
include_directories(${PROJECT_BINARY_DIR}/generated)
