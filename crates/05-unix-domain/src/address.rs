//! The address of a socket in the Unix domain: a path in the file system,
//! held in a `struct sockaddr_un`.
//!
//! ```c
//! struct sockaddr_un {
//!     sa_family_t sun_family;   /* AF_UNIX */
//!     char        sun_path[108];
//! };
//! ```
//!
//! The path is copied into `sun_path` with a NUL byte after it, so on
//! Linux it may have at most 107 bytes. A C program that `strcpy`s a
//! longer one writes past the end of the array; socket2 refuses it; here
//! it is a usage error that names the limit, before any socket exists.

use std::path::PathBuf;

use lesson::args::Args;
use socket2::SockAddr;

// ANCHOR: limit
/// The size of `sun_path`: what is left of `struct sockaddr_un` after the
/// fields before it (108 bytes on Linux, 104 on FreeBSD and macOS).
pub const SUN_PATH_SIZE: usize =
    size_of::<libc::sockaddr_un>() - std::mem::offset_of!(libc::sockaddr_un, sun_path);

/// The longest path we accept: the path, then its NUL, must fit in
/// `sun_path`, as unix(7) asks of portable programs. (Linux would even
/// take 108 bytes without the NUL, but then `getsockname` and `accept`
/// may return an address that has none; see BUGS in unix(7).)
pub const MAX_PATH_LEN: usize = SUN_PATH_SIZE - 1;
// ANCHOR_END: limit

// ANCHOR: address
/// Positional argument `index` as a socket path, and its `sockaddr_un`.
/// An empty path, or one longer than [`MAX_PATH_LEN`] bytes, is a usage
/// error (exit 2).
pub fn socket_address(args: &Args, index: usize) -> (PathBuf, SockAddr) {
    let path = PathBuf::from(args.os(index));
    // Bytes, not characters: `sun_path` is an array of bytes.
    let length = path.as_os_str().len();
    if length == 0 {
        // An empty sun_path is no name at all: bind() would then pick a
        // random abstract name (unix(7), "Autobind feature").
        args.usage_error("PATH must not be empty");
    }
    if length > MAX_PATH_LEN {
        args.usage_error(&format!(
            "PATH is too long: {length} bytes, but a Unix-domain socket address holds at most \
             {MAX_PATH_LEN} (sun_path has {SUN_PATH_SIZE} bytes, one of them for the final NUL)"
        ));
    }
    // SockAddr::unix builds the sockaddr_un: sun_family = AF_UNIX, the
    // path, a NUL, and the length the kernel must be told.
    match SockAddr::unix(&path) {
        Ok(address) => (path, address),
        Err(reason) => args.usage_error(&format!("invalid PATH: {reason}")),
    }
}
// ANCHOR_END: address

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_sun_path_holds_108_bytes_so_paths_get_107() {
        assert_eq!(SUN_PATH_SIZE, 108);
        assert_eq!(MAX_PATH_LEN, 107);
    }
}
