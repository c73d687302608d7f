//! `fleet plan` for one region: the release uploaded, its change set created and read, then discarded, so a
//! plan changes nothing but the artifact bucket.

use crate::changeset::{self, Change};
use crate::fleet::Entry;
use crate::stack::DeployError;
use crate::{pipeline, Release, Target};

/// What a deploy would do to a region's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    NoChange,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::NoChange => "no change",
        }
    }
}

/// One region's plan: the action and the resource changes behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegionPlan {
    pub region: String,
    pub stack: String,
    pub action: Action,
    pub changes: Vec<Change>,
}

impl RegionPlan {
    /// How many changes are of `action` (`Add`, `Modify`, `Remove`).
    pub fn count(&self, action: &str) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    /// The resources a deploy would replace (for sure, or depending on values only known then).
    pub fn replacements(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter(|c| c.replacement == "True" || c.replacement == "Conditional")
            .map(|c| c.logical_id.as_str())
            .collect()
    }
}

/// Plans `entry` in `target`'s region with `release` (its template and parameters already the entry's).
pub async fn plan_entry(
    target: &Target,
    entry: &Entry,
    release: &Release<'_>,
    progress: &dyn Fn(&str),
) -> Result<RegionPlan, DeployError> {
    let planned = pipeline::plan(target, &entry.stack, release, progress).await?;
    let (action, changes) = match planned.plan {
        None => (Action::NoChange, Vec::new()),
        Some(plan) => {
            changeset::discard(target, &plan).await?;
            let action = if plan.creates {
                Action::Create
            } else {
                Action::Update
            };
            (action, plan.changes)
        }
    };
    Ok(RegionPlan {
        region: entry.region.clone(),
        stack: entry.stack.clone(),
        action,
        changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, id: &str, replacement: &str) -> Change {
        Change {
            action: action.into(),
            logical_id: id.into(),
            resource_type: "AWS::Lambda::Function".into(),
            replacement: replacement.into(),
        }
    }

    #[test]
    fn counts_and_replacements_read_the_changes() {
        let plan = RegionPlan {
            region: "eu-west-1".into(),
            stack: "Riv-Prod".into(),
            action: Action::Update,
            changes: vec![
                change("Modify", "A", "False"),
                change("Modify", "B", "True"),
                change("Modify", "C", "Conditional"),
                change("Add", "D", "-"),
                change("Remove", "E", "-"),
            ],
        };
        assert_eq!(
            (
                plan.count("Add"),
                plan.count("Modify"),
                plan.count("Remove")
            ),
            (1, 3, 1)
        );
        assert_eq!(plan.replacements(), vec!["B", "C"]);
    }
}
