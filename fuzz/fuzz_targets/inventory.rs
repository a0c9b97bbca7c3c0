//! Lab inventory parsing, on any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        drlab_real::inventory::fuzz_inventory(text);
    }
});
