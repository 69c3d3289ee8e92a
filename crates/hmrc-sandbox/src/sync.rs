//! Small helpers around `std::sync`.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a previous holder panicked: the sandbox's state stays
/// usable for the tests that follow instead of poisoning every later request.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
