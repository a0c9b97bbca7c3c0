//! Scenario load + validate + a bounded simulated run, on any bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        drlab_sim::fuzz_scenario(text);
    }
});
