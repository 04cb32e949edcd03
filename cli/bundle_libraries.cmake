# Install-time script (cli/CMakeLists.txt): copies the shared libraries the
# server needs, but glibc's, into ${_ltest_lib_dir}, each under the name the
# server and the other libraries ask for (its soname), as a plain file (a
# wheel holds no symbolic links).
file(GET_RUNTIME_DEPENDENCIES
     EXECUTABLES "${_ltest_server}"
     RESOLVED_DEPENDENCIES_VAR _deps
     UNRESOLVED_DEPENDENCIES_VAR _missing
     # glibc: the system's, always (the one library every Linux has, and one
     # that must match its own loader).
     PRE_EXCLUDE_REGEXES "^ld-linux" "^linux-vdso" "^lib(c|m|dl|rt|pthread|resolv|util|nsl|anl|mvec)\\.so")
if(_missing)
  message(FATAL_ERROR "ltest-server needs libraries that cannot be found: ${_missing}")
endif()
file(MAKE_DIRECTORY "${_ltest_lib_dir}")
foreach(_dep IN LISTS _deps)
  get_filename_component(_name "${_dep}" NAME)
  get_filename_component(_real "${_dep}" REALPATH)
  message(STATUS "Bundling: ${_ltest_lib_dir}/${_name} (${_real})")
  get_filename_component(_real_name "${_real}" NAME)
  file(INSTALL DESTINATION "${_ltest_lib_dir}" TYPE SHARED_LIBRARY FILES "${_real}")
  if(NOT _real_name STREQUAL _name)
    file(RENAME "${_ltest_lib_dir}/${_real_name}" "${_ltest_lib_dir}/${_name}")
  endif()
endforeach()
