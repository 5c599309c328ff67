# Warnings shared by every fedsaf target.
add_library(fedsaf_warnings INTERFACE)
target_compile_options(fedsaf_warnings INTERFACE -Wall -Wextra)

# The parallel HDF5 C library as one imported target.
add_library(hdf5_parallel INTERFACE)
target_include_directories(hdf5_parallel SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS})
target_link_libraries(hdf5_parallel INTERFACE ${HDF5_C_LIBRARIES})
target_compile_definitions(hdf5_parallel INTERFACE ${HDF5_C_DEFINITIONS})

# fedsaf_module(NAME DIR dir DEPS dep...)
# One static library from every .cpp in one folder. The pseudo-dependency TORCH links LibTorch and
# reuses the shared precompiled header; files that do not include torch should say so with
# `// fedsaf: no-torch` on their first line, which skips the PCH (faster, lighter).
#
# LAYERS. Headers are included as "FOLDER/name.hpp" (e.g. "algo/algorithm.hpp"). A library's
# include path is a folder of its own under the build tree holding one link, FOLDER → its source
# folder, and it passes that path on to the libraries that link it: a file can include only its own
# folder's headers and those of the libraries its library declares in DEPS (and theirs). Including
# from a layer above fails to compile, so the dependency graph in CMakeLists.txt is the real one.
function(fedsaf_module name)
  cmake_parse_arguments(M "" "DIR" "DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${M_DIR}/*.cpp)
  add_library(${name} STATIC ${sources})
  get_filename_component(folder ${M_DIR} NAME)
  set(root ${PROJECT_BINARY_DIR}/include/${name})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${M_DIR} ${root}/${folder} SYMBOLIC)
  target_include_directories(${name} PUBLIC ${root})
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
