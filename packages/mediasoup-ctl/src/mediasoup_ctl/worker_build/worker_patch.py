"""Make mediasoup-worker 3.16.0's meson files build offline against Debian's libraries.

The npm tarball's meson files fetch every dependency as a meson subproject from the internet.
This rewrites them to use the system's pkg-config dependencies, drops the test and fuzzer
targets (they need catch2 from the internet), fixes the DTLS BIO callback bug
(``operationType == BIO_CB_RETURN`` must test a bit), and is idempotent: a patched tree is left
as it is.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MARKER = "# conference: system dependencies"

SYSTEM_DEPS = f"""{MARKER}
openssl_dep = dependency('openssl')
libuv_dep = dependency('libuv')
libsrtp2_dep = dependency('libsrtp2')
usrsctp_dep = dependency('usrsctp')
absl_container_dep = dependency('absl_flat_hash_map')
absl_set_dep = dependency('absl_flat_hash_set')
absl_strings_dep = dependency('absl_strings')
absl_types_dep = [dependency('absl_optional'), dependency('absl_variant')]
flatbuffers_dep = dependency('flatbuffers')
srtp_compat_dep = declare_dependency(include_directories: include_directories('compat'))

"""

WORKER_DEPS = """dependencies = [
  srtp_compat_dep,
  absl_container_dep,
  absl_set_dep,
  openssl_dep,
  libuv_dep,
  libsrtp2_dep,
  usrsctp_dep,
  flatbuffers_dep,
  flatbuffers_generator_dep,
  libwebrtc_dep,
]

link_whole = [
  libwebrtc,
]
"""


def patch_worker_meson(text: str) -> str:
    if MARKER in text:
        return text
    start = text.index("openssl_proj = subproject(")
    end = text.index("# flatbuffers schemas subdirectory.")
    text = text[:start] + SYSTEM_DEPS + text[end:]
    dstart = text.index("dependencies = [\n  abseil_cpp_proj")
    dend = text.index("if host_machine.system() == 'windows'", dstart)
    text = text[:dstart] + WORKER_DEPS + "\n" + text[dend:]
    # Tests (catch2) and the fuzzer are not built here.
    text = text[: text.index("test_sources = [")]
    return text


def patch_libwebrtc_meson(text: str) -> str:
    if MARKER in text:
        return text
    text = re.sub(
        r"abseil_cpp_proj = subproject\(.*?\n\)\n",
        MARKER + "\n",
        text,
        count=1,
        flags=re.S,
    )
    text = text.replace("openssl_proj.get_variable('openssl_dep')", "openssl_dep")
    text = text.replace("abseil_cpp_proj.get_variable('absl_strings_dep')", "absl_strings_dep")
    text = text.replace("abseil_cpp_proj.get_variable('absl_types_dep')", "absl_types_dep")
    text = text.replace("flatbuffers_proj.get_variable('flatbuffers_dep')", "flatbuffers_dep")
    text = text.replace("libuv_proj.get_variable('libuv_dep')", "libuv_dep")
    if "_proj" in text:
        raise SystemExit("worker_patch: unexpected subproject left in deps/libwebrtc/meson.build")
    return text


DTLS_BUG = "(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1"
DTLS_FIX = "(operationType & BIO_CB_RETURN) ? static_cast<long>(ret) : 1"


def patch_dtls(text: str) -> str:
    if DTLS_FIX in text:
        return text
    if DTLS_BUG not in text:
        raise SystemExit("worker_patch: DTLS BIO callback not found; is this mediasoup 3.16.0?")
    return text.replace(DTLS_BUG, DTLS_FIX)


SRTP_COMPAT = """// conference: libsrtp 2 compatibility for mediasoup-worker 3.16.0.
// The worker calls its libsrtp 3 fork's API, which takes size_t* lengths where libsrtp 2
// takes int*, and names srtp_remove_stream srtp_stream_remove.
#pragma once
#include <srtp2/srtp.h>
#include <climits>
#include <cstddef>

inline srtp_err_status_t srtp_conference_call(
  srtp_err_status_t (*fn)(srtp_t, void*, int*), srtp_t ctx, void* data, size_t* len)
{
  if (*len > static_cast<size_t>(INT_MAX))
    return srtp_err_status_bad_param;
  int ilen = static_cast<int>(*len);
  srtp_err_status_t status = fn(ctx, data, &ilen);
  if (ilen < 0)
    return srtp_err_status_fail;
  *len = static_cast<size_t>(ilen);
  return status;
}

inline srtp_err_status_t srtp_protect(srtp_t ctx, void* data, size_t* len)
{ return srtp_conference_call(&::srtp_protect, ctx, data, len); }
inline srtp_err_status_t srtp_unprotect(srtp_t ctx, void* data, size_t* len)
{ return srtp_conference_call(&::srtp_unprotect, ctx, data, len); }
inline srtp_err_status_t srtp_protect_rtcp(srtp_t ctx, void* data, size_t* len)
{ return srtp_conference_call(&::srtp_protect_rtcp, ctx, data, len); }
inline srtp_err_status_t srtp_unprotect_rtcp(srtp_t ctx, void* data, size_t* len)
{ return srtp_conference_call(&::srtp_unprotect_rtcp, ctx, data, len); }
inline srtp_err_status_t srtp_stream_remove(srtp_t ctx, unsigned int ssrc)
{ return srtp_remove_stream(ctx, ssrc); }
"""


def main(worker_dir: str) -> None:
    root = Path(worker_dir)
    for rel, fn in (
        ("meson.build", patch_worker_meson),
        ("deps/libwebrtc/meson.build", patch_libwebrtc_meson),
        ("src/RTC/DtlsTransport.cpp", patch_dtls),
    ):
        path = root / rel
        path.write_text(fn(path.read_text()))
    compat = root / "compat"
    compat.mkdir(exist_ok=True)
    (compat / "srtp.h").write_text(SRTP_COMPAT)


if __name__ == "__main__":
    main(sys.argv[1])
