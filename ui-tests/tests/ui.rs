//! Every error the derive reports, pinned with its span and wording, and the
//! inputs that must compile.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/**/*.rs");
    cases.pass("tests/pass/*.rs");
}
