//! How add-on and template-override grants are marked in `access`'s text:
//! `via addon "NAME"`, the add-ons in use and what is unknown.

use std::fmt::Write as _;

use super::Report;

impl Report {
    /// The add-ons in use, and what they declare that is not analysed.
    pub(super) fn addon_notes(&self) -> String {
        let mut out = String::new();
        if !self.addons.is_empty() {
            let _ = writeln!(
                out,
                "\nAdd-ons in use: {} (their grants are marked `via addon \"NAME\"`)",
                self.addons.join(", ")
            );
        }
        if !self.unknown.is_empty() {
            out.push_str(
                "\nUNKNOWN: add-ons or template overrides declare what may grant access and cannot be analysed; review it by hand:\n",
            );
            for unknown in &self.unknown {
                let _ = writeln!(
                    out,
                    "  {}, {} {}: {}",
                    unknown.source(),
                    unknown.file,
                    unknown.address,
                    unknown.reason
                );
            }
        }
        out
    }
}

/// ` via addon "NAME"` for an add-on's grant, ` via template override
/// "NAME"` for an override's.
pub fn via(addon: Option<&str>, template_override: Option<&str>) -> String {
    match (addon, template_override) {
        (Some(addon), _) => format!(" via addon {addon:?}"),
        (None, Some(template)) => format!(" via template override {template:?}"),
        (None, None) => String::new(),
    }
}
