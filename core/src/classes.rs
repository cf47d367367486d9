//! The class list, with Keras `flow_from_directory` semantics: the sub-folder names of a data
//! folder, sorted by code point; a class's index is its position. Display names travel with it
//! in the bundle, so the page never has to guess what index 2 means.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// One class: the folder name plus what a volunteer should read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassInfo {
    /// The folder name, e.g. `maniola_jurtina`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scientific: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dutch: Option<String>,
    /// The field mark that tells it apart from its look-alikes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_mark: Option<String>,
    /// The same, in Dutch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_mark_dutch: Option<String>,
}

impl ClassInfo {
    /// A class with the known display names for `id`, if any.
    pub fn named(id: &str) -> Self {
        KNOWN
            .iter()
            .find(|k| k.aliases.contains(&id))
            .map(|k| ClassInfo {
                id: id.to_string(),
                scientific: Some(k.scientific.to_string()).filter(|s| !s.is_empty()),
                english: Some(k.english.to_string()),
                dutch: Some(k.dutch.to_string()),
                field_mark: Some(k.field_mark.to_string()),
                field_mark_dutch: Some(k.field_mark_dutch.to_string()),
            })
            .unwrap_or_else(|| ClassInfo {
                id: id.to_string(),
                scientific: None,
                english: None,
                dutch: None,
                field_mark: None,
                field_mark_dutch: None,
            })
    }

    /// The best name to show: English, else scientific, else the folder name.
    pub fn label(&self) -> &str {
        self.english.as_deref().or(self.scientific.as_deref()).unwrap_or(&self.id)
    }
}

struct Known {
    aliases: &'static [&'static str],
    scientific: &'static str,
    english: &'static str,
    dutch: &'static str,
    field_mark: &'static str,
    field_mark_dutch: &'static str,
}

/// The three look-alikes of the garden count, under their scientific and English folder names.
const KNOWN: &[Known] = &[
    Known {
        aliases: &["maniola_jurtina", "meadow_brown"],
        scientific: "Maniola jurtina",
        english: "meadow brown",
        dutch: "bruin zandoogje",
        field_mark: "One white pupil in the black forewing eyespot.",
        field_mark_dutch: "Eén witte pupil in de zwarte oogvlek op de voorvleugel.",
    },
    Known {
        aliases: &["pyronia_tithonus", "gatekeeper"],
        scientific: "Pyronia tithonus",
        english: "gatekeeper",
        dutch: "oranje zandoogje",
        field_mark: "Usually two white pupils in the forewing eyespot; bright orange patches.",
        field_mark_dutch: "Meestal twee witte pupillen in de oogvlek op de voorvleugel; felle oranje vlakken.",
    },
    Known {
        aliases: &["coenonympha_pamphilus", "small_heath"],
        scientific: "Coenonympha pamphilus",
        english: "small heath",
        dutch: "hooibeestje",
        field_mark: "Small and orange; never rests with its wings open.",
        field_mark_dutch: "Klein en oranje; zit nooit met open vleugels.",
    },
    Known {
        aliases: &["other"],
        scientific: "",
        english: "another species",
        dutch: "een andere soort",
        field_mark: "None of the three look-alike browns.",
        field_mark_dutch: "Geen van de drie bruine dubbelgangers.",
    },
];

/// Ordered classes; index = position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassList {
    classes: Vec<ClassInfo>,
}

impl ClassList {
    /// Classes from ids, sorted by code point as `flow_from_directory` does, with known names.
    pub fn from_ids<S: AsRef<str>>(ids: impl IntoIterator<Item = S>) -> Self {
        let mut ids: Vec<String> = ids.into_iter().map(|s| s.as_ref().to_string()).collect();
        // Rust orders strings by UTF-8 bytes, which is code point order: Python's `sorted`.
        ids.sort();
        ids.dedup();
        Self { classes: ids.iter().map(|id| ClassInfo::named(id)).collect() }
    }

    /// The sub-folders of `dir` (hidden ones skipped), as `flow_from_directory(classes=None)`.
    pub fn from_directory(dir: &Path) -> std::io::Result<Self> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() && !name.starts_with('.') {
                ids.push(name);
            }
        }
        Ok(Self::from_ids(ids))
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&ClassInfo> {
        self.classes.get(index)
    }

    /// The index of the class with folder name `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.classes.iter().position(|c| c.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ClassInfo> {
        self.classes.iter()
    }

    pub fn ids(&self) -> Vec<&str> {
        self.classes.iter().map(|c| c.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_code_point_like_python() {
        let list = ClassList::from_ids(["small_heath", "Meadow", "gatekeeper", "meadow_brown"]);
        assert_eq!(list.ids(), ["Meadow", "gatekeeper", "meadow_brown", "small_heath"]);
        assert_eq!(list.index_of("gatekeeper"), Some(1));
    }

    #[test]
    fn directory_classes_skip_files_and_hidden_folders() {
        let dir = std::env::temp_dir().join(format!("vlinder-classes-{}", std::process::id()));
        for sub in ["pyronia_tithonus", "maniola_jurtina", ".cache", "coenonympha_pamphilus"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("attribution.csv"), "x").unwrap();
        let list = ClassList::from_directory(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(list.ids(), ["coenonympha_pamphilus", "maniola_jurtina", "pyronia_tithonus"]);
    }

    #[test]
    fn target_species_carry_their_names() {
        let list = ClassList::from_ids(["maniola_jurtina", "pyronia_tithonus", "coenonympha_pamphilus", "x"]);
        let names: Vec<_> = list
            .iter()
            .map(|c| (c.scientific.as_deref(), c.english.as_deref(), c.dutch.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                (Some("Coenonympha pamphilus"), Some("small heath"), Some("hooibeestje")),
                (Some("Maniola jurtina"), Some("meadow brown"), Some("bruin zandoogje")),
                (Some("Pyronia tithonus"), Some("gatekeeper"), Some("oranje zandoogje")),
                (None, None, None),
            ]
        );
        assert_eq!(ClassInfo::named("gatekeeper").scientific.as_deref(), Some("Pyronia tithonus"));
        assert_eq!(list.get(3).unwrap().label(), "x");
        let other = ClassInfo::named("other");
        assert_eq!((other.scientific, other.english.as_deref()), (None, Some("another species")));
    }
}
