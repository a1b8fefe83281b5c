//! JSON: the versioned `Report` itself.

use super::Renderer;
use crate::report::Report;

pub struct Json;

impl Renderer for Json {
    fn render(&self, report: &Report) -> Vec<u8> {
        report.to_json().into_bytes()
    }
}
