# Records the git commit (and "unknown" outside a git checkout). CMake configures again when HEAD
# moves (a commit, checkout or pull), so a rebuild never stamps run files with an older commit.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  OUTPUT_VARIABLE FEDSAF_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE git_rc ERROR_QUIET)
if(NOT git_rc EQUAL 0 OR FEDSAF_GIT_COMMIT STREQUAL "")
  set(FEDSAF_GIT_COMMIT "unknown")
endif()
# The files whose change means another commit: HEAD, its reflog (appended on every move), the
# branch it names, and packed-refs.
foreach(ref HEAD logs/HEAD refs/heads packed-refs)
  if(ref STREQUAL "refs/heads")
    execute_process(COMMAND git symbolic-ref -q HEAD WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE ref OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE ref_rc ERROR_QUIET)
    if(NOT ref_rc EQUAL 0)
      continue()  # a detached HEAD: HEAD itself holds the commit
    endif()
  endif()
  execute_process(COMMAND git rev-parse --path-format=absolute --git-path ${ref} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    OUTPUT_VARIABLE ref_file OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE path_rc ERROR_QUIET)
  if(path_rc EQUAL 0 AND EXISTS "${ref_file}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${ref_file}")
  endif()
endforeach()
if(FEDSAF_WITH_CUDA)
  set(FEDSAF_WITH_CUDA_01 1)
else()
  set(FEDSAF_WITH_CUDA_01 0)
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/build_info.hpp.in
               ${PROJECT_BINARY_DIR}/generated/fedsaf/build_info.hpp @ONLY)
include_directories(${PROJECT_BINARY_DIR}/generated)
