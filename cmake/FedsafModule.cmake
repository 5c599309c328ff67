# Warnings shared by every fedsaf target.
add_library(fedsaf_warnings INTERFACE)
target_compile_options(fedsaf_warnings INTERFACE -Wall -Wextra)

# The parallel HDF5 C library as one imported target.
add_library(hdf5_parallel INTERFACE)
target_include_directories(hdf5_parallel SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_link_libraries(hdf5_parallel INTERFACE ${HDF5_C_LIBRARIES})
target_compile_definitions(hdf5_parallel INTERFACE ${HDF5_C_DEFINITIONS})

# fedsaf_module(NAME DIRS dir... DEPS dep...)
# One static library from every .cpp in the given folders. The pseudo-dependency TORCH links
# LibTorch and reuses the shared precompiled header; files that do not include torch should say
# so with `// fedsaf: no-torch` on their first line, which skips the PCH (faster, lighter).
function(fedsaf_module name)
  cmake_parse_arguments(M "" "" "DIRS;DEPS" ${ARGN})
  set(sources)
  foreach(dir ${M_DIRS})
    file(GLOB found CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.cpp)
    list(APPEND sources ${found})
  endforeach()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC fedsaf_warnings)
  set(deps ${M_DEPS})
  if("TORCH" IN_LIST deps)
    list(REMOVE_ITEM deps TORCH)
    fedsaf_use_torch(${name} "${sources}")
  endif()
  target_link_libraries(${name} PUBLIC ${deps})
endfunction()

# Link torch and reuse the shared PCH, except for sources marked `// fedsaf: no-torch`.
function(fedsaf_use_torch target sources)
  target_link_libraries(${target} PUBLIC torch)
  target_precompile_headers(${target} REUSE_FROM fedsaf_torch_pch)
  foreach(src ${sources})
    file(STRINGS ${src} first LIMIT_COUNT 1)
    if(first MATCHES "fedsaf: no-torch")
      set_source_files_properties(${src} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
    endif()
  endforeach()
endfunction()
