# Toolchain: Windows x86-64 programs from Debian's mingw-w64, run under Wine.
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
# (`make test-windows` does this, and more; see docs/windows.md.)
#  * The -posix compilers: GCC 12's default -win32 flavour has no std::thread / std::mutex.
#  * Programs link -static, so Wine needs no DLL from the toolchain next to them.
#  * add_test() of an executable target runs it through the emulator (wine).
#  * Header-only libraries from the host (Boost, Catch2) are reached through a directory that
#    holds links to them alone: /usr/include itself must never be on the include path, or
#    glibc's headers shadow mingw's.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_shmring_triplet x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_shmring_triplet}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_shmring_triplet}-g++-posix)
set(CMAKE_RC_COMPILER ${_shmring_triplet}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${_shmring_triplet})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")

find_program(SHMRING_WINE NAMES wine wine64 PATHS /usr/lib/wine)
if(SHMRING_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SHMRING_WINE})
endif()

get_property(_shmring_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
if(NOT _shmring_in_try_compile)
  set(_shmring_host_headers ${CMAKE_BINARY_DIR}/host-headers)
  foreach(_lib boost catch2)
    if(EXISTS /usr/include/${_lib} AND NOT EXISTS ${_shmring_host_headers}/${_lib})
      file(MAKE_DIRECTORY ${_shmring_host_headers})
      file(CREATE_LINK /usr/include/${_lib} ${_shmring_host_headers}/${_lib} SYMBOLIC)
    endif()
  endforeach()
  set(Boost_NO_BOOST_CMAKE ON CACHE BOOL "")
  set(Boost_INCLUDE_DIR ${_shmring_host_headers} CACHE PATH "Boost headers (host, header-only)")
  set(CATCH2_INCLUDE_DIR ${_shmring_host_headers} CACHE PATH "Catch2 v2 header (host)")
endif()
