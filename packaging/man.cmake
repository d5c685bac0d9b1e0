# Generates the man page casedesk.1.gz from the CLI's own help (help2man), with a COMMANDS section
# holding every subcommand's --help. Run by the build (see the top-level CMakeLists.txt):
#   cmake -DCASEDESK=path/to/casedesk -DVERSION=x.y.z -DOUT_DIR=dir -P man.cmake
cmake_minimum_required(VERSION 3.25)
foreach(var CASEDESK VERSION OUT_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "man.cmake: -D${var}=... missing")
  endif()
endforeach()
find_program(HELP2MAN help2man REQUIRED)
find_program(GZIP gzip REQUIRED)

# Run as plain "casedesk" so that usage lines do not show the build folder.
set(bin_dir "${OUT_DIR}/man-bin")
file(MAKE_DIRECTORY "${bin_dir}")
file(CREATE_LINK "${CASEDESK}" "${bin_dir}/casedesk" SYMBOLIC)
set(ENV{PATH} "${bin_dir}:$ENV{PATH}")
set(ENV{COLUMNS} 100)

# roff: escape backslashes, protect lines starting with a control character.
function(roff_block text out_var)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# Subcommand names listed under "Subcommands:" in a help text.
function(subcommands help out_var)
  set(names "")
  string(REGEX MATCH "Subcommands:\n.*" block "${help}")
  string(REPLACE "\n" ";" lines "${block}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^  ([a-z][a-z0-9-]*)( |$)")
      list(APPEND names "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  set(${out_var} "${names}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND casedesk --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "casedesk --help failed (${rc})")
endif()
subcommands("${top}" subs)

set(include "[COMMANDS]\n")
foreach(sub IN LISTS subs)
  execute_process(COMMAND casedesk ${sub} --help OUTPUT_VARIABLE help)
  roff_block("${help}" help)
  string(APPEND include ".SS ${sub}\n.nf\n${help}.fi\n")
  subcommands("${help}" nested)
  foreach(n IN LISTS nested)
    execute_process(COMMAND casedesk ${sub} ${n} --help OUTPUT_VARIABLE nhelp)
    roff_block("${nhelp}" nhelp)
    string(APPEND include ".SS ${sub} ${n}\n.nf\n${nhelp}.fi\n")
  endforeach()
endforeach()

string(APPEND include [=[
[FILES]
.TP
.I /etc/casedesk/casedesk.toml
The configuration (see the commented example installed there and the README).
.TP
.I /etc/casedesk/environment
Optional VAR=value lines for the systemd unit (secrets named by password_env keys).
.TP
.I /var/lib/casedesk/casedesk.db
The case store (SQLite, mode 0600) of the packaged service.
.TP
.I /usr/share/casedesk/templates/
The built-in reply templates, for reference when writing overrides.
.TP
.I /lib/systemd/system/casedesk.service
The systemd unit (Type=notify, watchdog; `systemctl reload casedesk` re-reads the config).
[ENVIRONMENT]
.TP
.B CASEDESK_CONFIG
The config file when --config is not given (then /etc/casedesk/casedesk.toml).
.TP
.B SPDLOG_LEVEL
Log level: trace, debug, info (default), warn, error, critical, off.
.TP
.B JOURNAL_STREAM
Set by systemd: log lines then carry syslog priorities and no timestamps of their own.
[EXIT STATUS]
0 ok; 1 not found (a file, case or code); 65 malformed code-set file; 70 internal error (store);
73 a backup cannot be written; 75 the IMAP or SMTP server could not be used (serve --once);
78 configuration error.
[SIGNALS]
SIGTERM and SIGINT stop the daemon after the current transfer; SIGHUP re-reads the configuration
and templates (an invalid file is refused and the running configuration kept).
]=])
file(WRITE "${OUT_DIR}/casedesk.h2m" "${include}")

execute_process(
  COMMAND ${HELP2MAN} --no-info --section=1 --name "email consultation desk for medical coding"
          --version-string "${VERSION}" --include "${OUT_DIR}/casedesk.h2m" --output "${OUT_DIR}/casedesk.1"
          casedesk
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc})")
endif()
execute_process(COMMAND ${GZIP} -9nf "${OUT_DIR}/casedesk.1" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed (${rc})")
endif()
