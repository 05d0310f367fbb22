# Sanitizer builds: CONSENSUSD_SANITIZE holds what -fsanitize= takes, e.g.
#
#   cmake -S . -B build-asan -DCONSENSUSD_SANITIZE=address,undefined   (make test SANITIZE=...)
#   cmake -S . -B build-tsan -DCONSENSUSD_SANITIZE=thread
#
# Every target the project builds (libraries, the consensusd binary the integration tests
# start, test binaries, benchmarks) is compiled and linked with the sanitizers; undefined
# behaviour stops the program instead of printing and going on. The build type defaults to
# RelWithDebInfo, here -O1 -g with assertions on: a report names lines, and tests stay fast.
#
# The options the sanitizers run with (sanitizers/options.cc, suppressions in
# sanitizers/*.supp) are compiled into every executable, so the tests, a service they
# start and one started by hand all run alike; ASAN_OPTIONS and the like still override them.
set(CONSENSUSD_SANITIZE "" CACHE STRING
    "Sanitizers for every target, as -fsanitize= takes them (address,undefined or thread); empty for none")

if(CONSENSUSD_SANITIZE)
  if(CONSENSUSD_SANITIZE MATCHES "thread" AND CONSENSUSD_SANITIZE MATCHES "address")
    message(FATAL_ERROR "CONSENSUSD_SANITIZE: thread cannot be combined with address; "
                        "use two build directories (make test SANITIZE=address,undefined, "
                        "make test SANITIZE=thread)")
  endif()
  set(consensusd_sanitize_flags -fsanitize=${CONSENSUSD_SANITIZE} -fno-omit-frame-pointer)
  if(CONSENSUSD_SANITIZE MATCHES "undefined")
    list(APPEND consensusd_sanitize_flags -fno-sanitize-recover=undefined)
  endif()
  add_compile_options(${consensusd_sanitize_flags})
  add_link_options(${consensusd_sanitize_flags})
  set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O1 -g")
endif()

# Links the sanitizers' default options into every executable defined so far.
# Call it once, after the last add_executable.
function(consensusd_sanitizer_options)
  if(NOT CONSENSUSD_SANITIZE)
    return()
  endif()
  # c11_threads.cc is empty unless CONSENSUSD_SANITIZE is thread.
  add_library(sanitizer_options OBJECT ${CMAKE_SOURCE_DIR}/sanitizers/options.cc
                                       ${CMAKE_SOURCE_DIR}/sanitizers/c11_threads.cc)
  target_compile_definitions(sanitizer_options PRIVATE
    CONSENSUSD_SANITIZER_DIR="${CMAKE_SOURCE_DIR}/sanitizers")
  get_property(targets DIRECTORY ${CMAKE_SOURCE_DIR} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(target ${targets})
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "EXECUTABLE")
      target_link_libraries(${target} PRIVATE sanitizer_options)
    endif()
  endforeach()
endfunction()
