//! Logical ids and substitution variables derived from the shared names, so each is spelled once.

/// `detect-faces` → `DetectFaces`.
pub fn pascal(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub fn function_id(function: &str) -> String {
    format!("{}Function", pascal(function))
}

pub fn role_id(function: &str) -> String {
    format!("{}Role", pascal(function))
}

pub fn log_group_id(function: &str) -> String {
    format!("{}LogGroup", pascal(function))
}

/// The state machine definitions' `${…}` variable for a function's ARN.
pub fn arn_variable(function: &str) -> String {
    format!("{}Arn", pascal(function))
}

/// The parameter naming the artifact key of a function's zip.
pub fn code_key_parameter(function: &str) -> String {
    format!("{}CodeKey", pascal(function))
}

pub fn state_machine_id(route: &str) -> String {
    format!("{}StateMachine", pascal(route))
}

pub const TOPIC_ARN_VARIABLE: &str = "LoginFailedTopicArn";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_pascal_case() {
        assert_eq!(pascal("register-idcard"), "RegisterIdcard");
        assert_eq!(function_id("detect-faces"), "DetectFacesFunction");
        assert_eq!(arn_variable("index-face"), "IndexFaceArn");
        assert_eq!(state_machine_id("auth"), "AuthStateMachine");
    }
}
