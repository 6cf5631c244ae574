//! Fault injection for the end-to-end checks: a shared library that a
//! check loads into the program under test with `LD_PRELOAD`, so that the
//! program meets, on demand, situations that the machine produces rarely
//! or never, through the very C library calls the program makes.
//!
//! How: the dynamic linker binds a program's calls into the C library when
//! the program starts, and it looks in the preloaded libraries first. So a
//! function of ours named `getaddrinfo` *is* `getaddrinfo` for that
//! program. It finds the C library's own with `dlsym(RTLD_NEXT, ...)` ("the
//! next definition after this library") and calls it for everything it has
//! no reason to change. A statically linked program has no dynamic linker
//! and ignores `LD_PRELOAD`; the checks say so when they notice.
//!
//! What it changes, and when:
//!
//! - **A host with two addresses, the first refusing.** `getaddrinfo()`,
//!   `gethostbyname()` and `gethostbyname2()` resolve [`TWO_ADDRESSES`], a
//!   name under `.invalid` that no real resolver knows, to 127.0.0.2 and
//!   then 127.0.0.1, in that order. A check listens on 127.0.0.1 only, so
//!   a client is refused at the first address and must go on to the
//!   second. Every other name goes to the C library, untouched.
//! - **Failing `accept()` calls.** With `LESSON_FAULTS_ACCEPT` set to a
//!   comma-separated list of `errno` names, the program's first calls to
//!   `accept()` and `accept4()` fail with them, one per call, in order;
//!   then every call is the real one. `ECONNABORTED` and `EPROTO` concern
//!   one connection: the real call is made, the connection it returns is
//!   closed, and the call fails, as when a client gives up before it is
//!   accepted. `EINTR`, `EMFILE`, `ENFILE`, `ENOBUFS` and `ENOMEM` fail at
//!   once and take no connection, as the kernel's do: the waiting client
//!   stays in the queue. Any other name is ignored.
//!
//! The harness compiles this file with a bare `rustc` call, with no crate
//! to link (see `crates/lesson-testing/build.rs`), so the few C
//! declarations it needs are written out below. The structures' layouts
//! and the `errno` values are those of Linux with glibc, the same on x86-64
//! and arm64.

#![allow(non_camel_case_types)]
// Every unsafe call in an `unsafe fn` still gets its own block and its own
// SAFETY comment.
#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The name that resolves to two addresses, the first refusing.
pub const TWO_ADDRESSES: &CStr = c"first-refuses.lesson.invalid";

/// Its addresses, in the order they are returned: as text for the C
/// library's own `getaddrinfo()`, as bytes for a `struct hostent`.
const ADDRESSES: [&CStr; 2] = [c"127.0.0.2", c"127.0.0.1"];
const ADDRESS_BYTES: [[u8; 4]; 2] = [[127, 0, 0, 2], [127, 0, 0, 1]];

/// The variable that lists the failures of `accept()`.
const ACCEPT_FAULTS: &CStr = c"LESSON_FAULTS_ACCEPT";

pub type socklen_t = u32;

/// `struct addrinfo`, one result of `getaddrinfo()`; a list, by `ai_next`.
#[repr(C)]
pub struct addrinfo {
    pub ai_flags: c_int,
    pub ai_family: c_int,
    pub ai_socktype: c_int,
    pub ai_protocol: c_int,
    pub ai_addrlen: socklen_t,
    pub ai_addr: *mut c_void,
    pub ai_canonname: *mut c_char,
    pub ai_next: *mut addrinfo,
}

/// `struct hostent`, the answer of `gethostbyname()`.
#[repr(C)]
pub struct hostent {
    pub h_name: *mut c_char,
    pub h_aliases: *mut *mut c_char,
    pub h_addrtype: c_int,
    pub h_length: c_int,
    pub h_addr_list: *mut *mut c_char,
}

const AF_INET: c_int = 2;
const AI_NUMERICHOST: c_int = 0x0004;
const EAI_SYSTEM: c_int = -11;
/// glibc's `RTLD_NEXT`: `((void *) -1l)`.
const RTLD_NEXT: *mut c_void = usize::MAX as *mut c_void;

const EINTR: c_int = 4;
const ENOMEM: c_int = 12;
const ENFILE: c_int = 23;
const EMFILE: c_int = 24;
const ENOSYS: c_int = 38;
const EPROTO: c_int = 71;
const ECONNABORTED: c_int = 103;
const ENOBUFS: c_int = 105;

extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn getenv(name: *const c_char) -> *const c_char;
    fn close(fd: c_int) -> c_int;
    fn __errno_location() -> *mut c_int;
}

type GetaddrinfoFn = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;
type FreeaddrinfoFn = unsafe extern "C" fn(*mut addrinfo);
type GethostbynameFn = unsafe extern "C" fn(*const c_char) -> *mut hostent;
type Gethostbyname2Fn = unsafe extern "C" fn(*const c_char, c_int) -> *mut hostent;
type AcceptFn = unsafe extern "C" fn(c_int, *mut c_void, *mut socklen_t) -> c_int;
type Accept4Fn = unsafe extern "C" fn(c_int, *mut c_void, *mut socklen_t, c_int) -> c_int;

/// The C library's own function `$name`, of type `$type`: the next
/// definition after ours, looked up once and kept. `None` if there is none.
macro_rules! next_definition {
    ($name:literal as $type:ty) => {{
        static FOUND: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());
        let mut found = FOUND.load(Ordering::Acquire);
        if found.is_null() {
            // SAFETY: dlsym() reads a NUL-terminated name (a C string
            // literal) and returns an address or NULL; RTLD_NEXT is a
            // handle glibc defines for exactly this use.
            found = unsafe { dlsym(RTLD_NEXT, $name.as_ptr()) };
            FOUND.store(found, Ordering::Release);
        }
        // SAFETY: a non-NULL address that dlsym() found under this name is
        // the C library's function of that name, whose C signature is the
        // one `$type` spells out; a function pointer and a data pointer
        // have the same size on Linux, as dlsym() itself requires.
        (!found.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, $type>(found) })
    }};
}

/// Sets `errno`, as a failing C library call does before it returns.
fn set_errno(value: c_int) {
    // SAFETY: __errno_location() returns the address of the calling
    // thread's `errno`, valid for as long as the thread lives.
    unsafe { *__errno_location() = value };
}

/// Whether `name` (a C string, or NULL) is [`TWO_ADDRESSES`].
///
/// # Safety
///
/// `name` is NULL or points to a NUL-terminated string.
unsafe fn is_ours(name: *const c_char) -> bool {
    // SAFETY: the caller's promise.
    !name.is_null() && unsafe { CStr::from_ptr(name) } == TWO_ADDRESSES
}

/// The lists handed out for [`TWO_ADDRESSES`]: two lists of the C library
/// joined into one, as (first node, last node of the first list), so that
/// [`freeaddrinfo`] can cut them apart and give each back whole.
static JOINED: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// `getaddrinfo()`: [`TWO_ADDRESSES`] becomes 127.0.0.2, then 127.0.0.1.
///
/// Each address is looked up by the C library itself, as a numeric host
/// with the caller's service and hints, so that the ports, socket types
/// and protocols of the answer are exactly what it would give for a name
/// with these addresses; the two lists are then joined, first to second.
///
/// # Safety
///
/// As for the C library's `getaddrinfo()`: `node` and `service` are NULL
/// or NUL-terminated, `hints` is NULL or a valid `struct addrinfo`, `res`
/// is valid for writing, and the list is given back with `freeaddrinfo()`.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let Some(real) = next_definition!(c"getaddrinfo" as GetaddrinfoFn) else {
        set_errno(ENOSYS);
        return EAI_SYSTEM;
    };
    // SAFETY: `node` is NULL or NUL-terminated (the caller's promise).
    if !unsafe { is_ours(node) } {
        // SAFETY: the caller's promises are the C library's preconditions.
        return unsafe { real(node, service, hints, res) };
    }
    // The caller's hints, or none (all zero but AF_UNSPEC, which is 0),
    // and only numeric hosts: the addresses are literals.
    let mut numeric = addrinfo {
        ai_flags: 0,
        ai_family: 0,
        ai_socktype: 0,
        ai_protocol: 0,
        ai_addrlen: 0,
        ai_addr: ptr::null_mut(),
        ai_canonname: ptr::null_mut(),
        ai_next: ptr::null_mut(),
    };
    if !hints.is_null() {
        // SAFETY: `hints` points to a valid `struct addrinfo` (the caller's
        // promise); only its four numbers are read.
        let given = unsafe { &*hints };
        numeric.ai_flags = given.ai_flags;
        numeric.ai_family = given.ai_family;
        numeric.ai_socktype = given.ai_socktype;
        numeric.ai_protocol = given.ai_protocol;
    }
    numeric.ai_flags |= AI_NUMERICHOST;
    let mut lists: [*mut addrinfo; 2] = [ptr::null_mut(); 2];
    for index in 0..2 {
        // SAFETY: a NUL-terminated literal, the caller's service, hints
        // that live on our stack, and a place for the result.
        let status = unsafe {
            real(
                ADDRESSES[index].as_ptr(),
                service,
                &numeric,
                &mut lists[index],
            )
        };
        if status != 0 {
            if index == 1 {
                if let Some(free) = next_definition!(c"freeaddrinfo" as FreeaddrinfoFn) {
                    // SAFETY: the first list, from the C library, not yet
                    // handed to anyone.
                    unsafe { free(lists[0]) };
                }
            }
            return status;
        }
    }
    // SAFETY: both lists come from the C library's getaddrinfo(), which
    // succeeded: each is a non-empty, NULL-terminated chain of valid nodes.
    let last = unsafe {
        let mut last = lists[0];
        while !(*last).ai_next.is_null() {
            last = (*last).ai_next;
        }
        (*last).ai_next = lists[1];
        last
    };
    if let Ok(mut joined) = JOINED.lock() {
        joined.push((lists[0] as usize, last as usize));
    }
    // SAFETY: `res` is valid for writing (the caller's promise).
    unsafe { *res = lists[0] };
    0
}

/// `freeaddrinfo()`: a list of ours is cut back into the C library's two
/// lists, and each is given back whole; any other goes straight through.
///
/// # Safety
///
/// As for the C library's `freeaddrinfo()`: `list` came from
/// `getaddrinfo()` and is given back once.
#[no_mangle]
pub unsafe extern "C" fn freeaddrinfo(list: *mut addrinfo) {
    let Some(real) = next_definition!(c"freeaddrinfo" as FreeaddrinfoFn) else {
        return;
    };
    let joint = JOINED.lock().ok().and_then(|mut joined| {
        let at = joined
            .iter()
            .position(|(first, _)| *first == list as usize)?;
        Some(joined.swap_remove(at).1 as *mut addrinfo)
    });
    if let Some(last) = joint {
        // SAFETY: `last` is the last node of the first list, recorded when
        // the two were joined; its `ai_next` is the second list's head.
        let second = unsafe { std::mem::replace(&mut (*last).ai_next, ptr::null_mut()) };
        // SAFETY: the C library's own list, given back once.
        unsafe { real(second) };
    }
    // SAFETY: the C library's own list (now cut back to it), given back once.
    unsafe { real(list) };
}

/// The `struct hostent` for [`TWO_ADDRESSES`], made once and kept for the
/// life of the program, as the C library keeps its own in static storage.
fn two_address_entry() -> *mut hostent {
    struct Entry(*mut hostent);
    // SAFETY: the entry is written once, here, and only read afterwards.
    unsafe impl Send for Entry {}
    // SAFETY: as above: nothing writes it after it is made.
    unsafe impl Sync for Entry {}
    static ENTRY: OnceLock<Entry> = OnceLock::new();
    ENTRY
        .get_or_init(|| {
            let addresses: &'static mut [[u8; 4]; 2] = Box::leak(Box::new(ADDRESS_BYTES));
            let [first, second] = addresses;
            let list: &'static mut [*mut c_char; 3] = Box::leak(Box::new([
                first.as_mut_ptr().cast(),
                second.as_mut_ptr().cast(),
                ptr::null_mut(),
            ]));
            let aliases: &'static mut [*mut c_char; 1] = Box::leak(Box::new([ptr::null_mut()]));
            Entry(Box::into_raw(Box::new(hostent {
                // A caller must not write through it (the C library's own
                // entry is no more writable): the literal stays as it is.
                h_name: TWO_ADDRESSES.as_ptr().cast_mut(),
                h_aliases: aliases.as_mut_ptr(),
                h_addrtype: AF_INET,
                h_length: 4,
                h_addr_list: list.as_mut_ptr(),
            })))
        })
        .0
}

/// `gethostbyname()`, the tutorial's call: [`TWO_ADDRESSES`] has two IPv4
/// addresses, in `h_addr_list`.
///
/// # Safety
///
/// As for the C library's: `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut hostent {
    // SAFETY: the caller's promise.
    if unsafe { is_ours(name) } {
        return two_address_entry();
    }
    match next_definition!(c"gethostbyname" as GethostbynameFn) {
        // SAFETY: the caller's promise is the C library's precondition.
        Some(real) => unsafe { real(name) },
        None => ptr::null_mut(),
    }
}

/// `gethostbyname2()`: as [`gethostbyname`] for `AF_INET`; the name has no
/// address of any other family.
///
/// # Safety
///
/// As for the C library's: `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, family: c_int) -> *mut hostent {
    // SAFETY: the caller's promise.
    if family == AF_INET && unsafe { is_ours(name) } {
        return two_address_entry();
    }
    match next_definition!(c"gethostbyname2" as Gethostbyname2Fn) {
        // SAFETY: the caller's promise is the C library's precondition.
        Some(real) => unsafe { real(name, family) },
        None => ptr::null_mut(),
    }
}

/// One failure to inject into `accept()`.
enum Fault {
    /// Take the waiting connection, close it, and fail with this `errno`.
    DropConnection(c_int),
    /// Fail with this `errno` at once, taking no connection.
    Now(c_int),
}

/// How many entries of `LESSON_FAULTS_ACCEPT` have been used.
static USED: AtomicUsize = AtomicUsize::new(0);

/// Entry `index` of `LESSON_FAULTS_ACCEPT`, if there is one that we know.
fn accept_fault(index: usize) -> Option<Fault> {
    // SAFETY: getenv() reads a NUL-terminated name and returns NULL or a
    // NUL-terminated string; the programs under test do not change their
    // environment while it is read.
    let list = unsafe { getenv(ACCEPT_FAULTS.as_ptr()) };
    if list.is_null() {
        return None;
    }
    // SAFETY: non-NULL, so a NUL-terminated string from the environment.
    let list = unsafe { CStr::from_ptr(list) }.to_bytes();
    let name = list.split(|&b| b == b',').nth(index)?.trim_ascii();
    Some(match name {
        b"ECONNABORTED" => Fault::DropConnection(ECONNABORTED),
        b"EPROTO" => Fault::DropConnection(EPROTO),
        b"EINTR" => Fault::Now(EINTR),
        b"EMFILE" => Fault::Now(EMFILE),
        b"ENFILE" => Fault::Now(ENFILE),
        b"ENOBUFS" => Fault::Now(ENOBUFS),
        b"ENOMEM" => Fault::Now(ENOMEM),
        _ => return None,
    })
}

/// Calls `accept` (the real call), or fails as the next fault says.
fn with_accept_faults(accept: impl FnOnce() -> c_int) -> c_int {
    let used = USED.load(Ordering::Relaxed);
    match accept_fault(used) {
        None => accept(),
        Some(Fault::Now(errno)) => {
            USED.store(used + 1, Ordering::Relaxed);
            set_errno(errno);
            -1
        }
        Some(Fault::DropConnection(errno)) => {
            let connection = accept();
            if connection < 0 {
                // A real failure: report it; the fault waits for the next
                // connection.
                return connection;
            }
            USED.store(used + 1, Ordering::Relaxed);
            // SAFETY: `connection` is the descriptor the real call has just
            // returned to us; nobody else knows of it.
            unsafe { close(connection) };
            set_errno(errno);
            -1
        }
    }
}

/// `accept()`, with the faults of `LESSON_FAULTS_ACCEPT` first.
///
/// # Safety
///
/// As for the C library's: `address` and `length` are both NULL, or point
/// to a buffer and its size.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, address: *mut c_void, length: *mut socklen_t) -> c_int {
    let Some(real) = next_definition!(c"accept" as AcceptFn) else {
        set_errno(ENOSYS);
        return -1;
    };
    // SAFETY: the caller's promise is the C library's precondition.
    with_accept_faults(|| unsafe { real(fd, address, length) })
}

/// `accept4()` (what Rust's standard library and socket2 call), with the
/// faults of `LESSON_FAULTS_ACCEPT` first.
///
/// # Safety
///
/// As for the C library's: `address` and `length` are both NULL, or point
/// to a buffer and its size.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    address: *mut c_void,
    length: *mut socklen_t,
    flags: c_int,
) -> c_int {
    let Some(real) = next_definition!(c"accept4" as Accept4Fn) else {
        set_errno(ENOSYS);
        return -1;
    };
    // SAFETY: the caller's promise is the C library's precondition.
    with_accept_faults(|| unsafe { real(fd, address, length, flags) })
}
