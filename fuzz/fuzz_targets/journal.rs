//! Drill journal parsing (and the rollback plan it yields), on any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    drlab_drill::journal::fuzz_journal(data);
});
