# Writes the bytes of a file into a C++ header, as a std::string_view constant:
#
#   cmake -DINPUT=page.html -DOUTPUT=page_html.h -DNAMESPACE=ns -DNAME=kPage -P embed_file.cmake
#
# The header defines `inline constexpr std::string_view NAMESPACE::NAME` holding
# exactly the bytes of INPUT (a char array, so any byte and any length fit).
file(READ "${INPUT}" hex HEX)
get_filename_component(input_name "${INPUT}" NAME)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
# 16 bytes per line.
string(REPEAT "'[^']*'," 16 sixteen)
string(REGEX REPLACE "(${sixteen})" "\\1\n    " bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${input_name} by cmake/embed_file.cmake; edit that file instead.
#pragma once

#include <string_view>

namespace ${NAMESPACE} {
namespace embedded_file_internal {
inline constexpr char ${NAME}Bytes[] = {
    ${bytes}'\\0'};
}  // namespace embedded_file_internal

inline constexpr std::string_view ${NAME}(
    embedded_file_internal::${NAME}Bytes, sizeof embedded_file_internal::${NAME}Bytes - 1);

}  // namespace ${NAMESPACE}
")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
