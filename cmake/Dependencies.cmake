# Every dependency comes from Debian's packages (see scripts/lib/deps.sh).
find_package(CURL REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(SQLiteCpp REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)

# mimetic and kainjow mustache ship no CMake or pkg-config files.
find_path(MIMETIC_INCLUDE_DIR mimetic/mimetic.h REQUIRED)
find_library(MIMETIC_LIBRARY mimetic REQUIRED)
add_library(mimetic::mimetic UNKNOWN IMPORTED)
set_target_properties(mimetic::mimetic PROPERTIES
  IMPORTED_LOCATION "${MIMETIC_LIBRARY}"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${MIMETIC_INCLUDE_DIR}")
# mimetic's headers use `register` and deprecated std:: bases.
target_compile_options(mimetic::mimetic INTERFACE -Wno-deprecated-declarations -Wno-register)

find_path(MUSTACHE_INCLUDE_DIR kainjow/mustache.hpp REQUIRED)
add_library(kainjow::mustache INTERFACE IMPORTED)
set_target_properties(kainjow::mustache PROPERTIES
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${MUSTACHE_INCLUDE_DIR}")

# Boost 1.74 Asio + g++ 12 + C++20: asio/awaitable.hpp uses std::exchange without <utility>.
add_library(casedesk_asio INTERFACE)
target_link_libraries(casedesk_asio INTERFACE Boost::headers Threads::Threads)
target_compile_options(casedesk_asio INTERFACE -include utility)
target_compile_definitions(casedesk_asio INTERFACE BOOST_ASIO_NO_DEPRECATED)

# sd_notify (READY, STATUS, WATCHDOG) for the systemd unit; only daemon/systemd_notify.cpp uses it.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBSYSTEMD REQUIRED IMPORTED_TARGET libsystemd)

# argon2id password hashes for consultants' accounts; only daemon/password.cpp uses it.
pkg_check_modules(LIBSODIUM REQUIRED IMPORTED_TARGET libsodium)
