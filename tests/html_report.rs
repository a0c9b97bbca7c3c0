//! The HTML report as text: the page of a library scenario matches its
//! snapshot (`tests/snapshots/wan-failover.html.snap`, one element per line
//! so a change shows as a readable diff), and it is the same bytes on every
//! run. `lab/tests/html_browser.rs` opens such pages in Chromium.

use drlab_reports::Report;

/// The page of library scenario `stem` at its own seed, as `drlab run
/// scenarios/library/STEM.toml --format html` prints it.
fn page(stem: &str) -> String {
    let s = drlab_tests::scenario(stem);
    let run = drlab_sim::run(&s, s.scenario.seed).expect("the library scenario runs");
    let r = Report::from_events(&run.events);
    drlab_reports::html(&r, &run.events, &format!("scenarios/library/{stem}.toml"))
}

#[test]
fn the_wan_failover_page_matches_its_snapshot() {
    let html = page("wan-failover");
    assert_eq!(html, page("wan-failover"), "the page is not deterministic");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(drlab_tests::root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
        .set_description("scenarios/library/wan-failover.toml --format html, one element per line");
    settings.bind(|| {
        insta::assert_snapshot!("wan-failover.html", html.replace("><", ">\n<"));
    });
}
