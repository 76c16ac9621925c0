//! What a finished call reports about its outcome: the object-safe traits the attribute macros
//! call through `__private`.
#![allow(missing_docs)]

use crate::usage::ReportsUsage;

/// What a finished call reports about its outcome (implemented by span handles).
pub trait Outcome {
    fn report(&self, r: &dyn DynReports);
    fn fail(&self, error_type: &str, description: Option<String>);
}

/// Object-safe view of [`ReportsUsage`].
pub trait DynReports {
    fn usage(&self) -> Option<crate::Usage>;
    fn response_id(&self) -> Option<&str>;
    fn response_model(&self) -> Option<&str>;
    fn finish_reasons(&self) -> Vec<&str>;
    fn output_messages(&self) -> Option<serde_json::Value>;
}
impl<T: ReportsUsage + ?Sized> DynReports for T {
    fn usage(&self) -> Option<crate::Usage> {
        ReportsUsage::usage(self)
    }
    fn response_id(&self) -> Option<&str> {
        ReportsUsage::response_id(self)
    }
    fn response_model(&self) -> Option<&str> {
        ReportsUsage::response_model(self)
    }
    fn finish_reasons(&self) -> Vec<&str> {
        ReportsUsage::finish_reasons(self)
    }
    fn output_messages(&self) -> Option<serde_json::Value> {
        ReportsUsage::output_messages(self)
    }
}
