//! Memory: handing idle buffer pages back to the kernel.

/// Give the physical pages wholly inside `buf` back to the kernel
/// (`MADV_DONTNEED`): the buffer stays valid and reads as zeros where
/// released, and takes pages again when next written. For a long-lived
/// I/O buffer of an idle process. Best effort: errors are ignored.
pub fn release_pages(buf: &mut [u8]) {
    const PAGE: usize = 4096;
    let start = buf.as_mut_ptr() as usize;
    let first = start.div_ceil(PAGE) * PAGE;
    let end = (start + buf.len()) / PAGE * PAGE;
    if end <= first {
        return;
    }
    // SAFETY: [first, end) lies inside `buf`, which we borrow mutably, so
    // no other reference observes the contents; the range is page aligned.
    // MADV_DONTNEED on private anonymous (heap or mmap) memory keeps the
    // mapping valid and zero-fills on the next access, so `buf` remains
    // initialized memory for Rust.
    unsafe {
        libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_DONTNEED);
    }
}
