//! The page's words, in English and Dutch. The page fills every element marked
//! `data-text="key"` from [`strings`]; `{name}`-style placeholders are filled by the page.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Dutch,
}

impl Language {
    /// From a BCP 47 tag such as `navigator.language` (`nl`, `nl-BE`, `en-GB`, …).
    pub fn from_tag(tag: &str) -> Self {
        let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        if primary == "nl" { Language::Dutch } else { Language::English }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Dutch => "nl",
        }
    }
}

/// (key, English, Dutch).
const STRINGS: &[(&str, &str, &str)] = &[
    ("title", "Which brown butterfly?", "Welke bruine vlinder?"),
    ("intro", "Meadow brown, gatekeeper or small heath? Take or choose a photo. It is checked on this device and never sent anywhere.", "Bruin zandoogje, oranje zandoogje of hooibeestje? Maak of kies een foto. Die wordt op dit toestel bekeken en nergens heen gestuurd."),
    ("choose", "Take or choose a photo", "Maak of kies een foto"),
    ("drop", "…or drop or paste a photo here", "…of sleep of plak hier een foto"),
    ("loading_model", "Loading the model…", "Het model wordt geladen…"),
    ("working", "Looking at the photo…", "De foto wordt bekeken…"),
    ("likely", "Likely {name}", "Waarschijnlijk {name}"),
    ("possible", "Possibly {name}", "Mogelijk {name}"),
    ("not_sure", "Not sure: the photo does not clearly show one of the three", "Niet zeker: de foto laat niet duidelijk een van de drie zien"),
    ("other", "None of the three look-alikes", "Geen van de drie dubbelgangers"),
    ("not_sure_hint", "Try a sharper photo of the underside of the forewing, close up.", "Probeer een scherpere foto van dichtbij, van de onderkant van de voorvleugel."),
    ("how_to_tell", "How to tell", "Zo herken je hem"),
    ("model_saw", "What the model saw", "Wat het model zag"),
    ("timing", "{ms} ms on this device", "{ms} ms op dit toestel"),
    ("augment", "What training feeds the network", "Wat de training het netwerk voert"),
    ("augment_hint", "Training shows the network randomly turned, shifted, sheared, zoomed and flipped versions of each photo. Try it on yours.", "Bij het trainen ziet het netwerk elke foto willekeurig gedraaid, verschoven, scheefgetrokken, ingezoomd en gespiegeld. Probeer het op de jouwe."),
    ("rotation", "Rotation (°)", "Draaiing (°)"),
    ("width_shift", "Shift sideways", "Verschuiving opzij"),
    ("height_shift", "Shift up/down", "Verschuiving op/neer"),
    ("shear", "Shear (°)", "Scheefheid (°)"),
    ("zoom_rows", "Zoom, height", "Zoom, hoogte"),
    ("zoom_cols", "Zoom, width", "Zoom, breedte"),
    ("flip_horizontal", "Mirror left–right", "Spiegel links–rechts"),
    ("flip_vertical", "Mirror top–bottom", "Spiegel boven–onder"),
    ("fill_mode", "Fill the edges", "Randen opvullen"),
    ("fill_nearest", "nearest pixel", "dichtste pixel"),
    ("fill_constant", "black", "zwart"),
    ("fill_reflect", "mirror", "spiegelen"),
    ("fill_wrap", "wrap around", "omwikkelen"),
    ("random", "Random, as in training", "Willekeurig, zoals bij training"),
    ("reset", "Reset", "Herstel"),
    ("model", "Model", "Model"),
    ("model_line", "{architecture}, {size}×{size} pixels, classes: {classes}", "{architecture}, {size}×{size} pixels, klassen: {classes}"),
    ("load_model", "Use another model file (.vlinder)", "Gebruik een ander modelbestand (.vlinder)"),
    ("model_loaded", "Model loaded.", "Model geladen."),
    ("model_error", "That model file cannot be used: {reason}. The previous model is still in use.", "Dat modelbestand is niet bruikbaar: {reason}. Het vorige model blijft in gebruik."),
    ("image_error", "That photo cannot be read: {reason}", "Die foto kan niet gelezen worden: {reason}"),
    ("no_model", "No model could be loaded: {reason}", "Er kon geen model geladen worden: {reason}"),
    ("crashed", "Something went wrong inside the classifier; it has been restarted. Please try again.", "Er ging iets mis in de herkenning; die is opnieuw gestart. Probeer het nog eens."),
    ("offline_ready", "Ready to work offline.", "Klaar om offline te werken."),
    ("privacy", "No photo or result leaves this device.", "Geen foto of resultaat verlaat dit toestel."),
    ("language", "Nederlands", "English"),
];

/// Every string for `language`, by key.
pub fn strings(language: Language) -> BTreeMap<&'static str, &'static str> {
    let mut map: BTreeMap<_, _> = STRINGS
        .iter()
        .map(|&(key, en, nl)| (key, if language == Language::Dutch { nl } else { en }))
        .collect();
    map.insert("lang", language.tag());
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_tags_pick_the_language() {
        assert_eq!(Language::from_tag("nl-BE"), Language::Dutch);
        assert_eq!(Language::from_tag("NL"), Language::Dutch);
        assert_eq!(Language::from_tag("en-GB"), Language::English);
        assert_eq!(Language::from_tag("fr"), Language::English);
        assert_eq!(Language::from_tag(""), Language::English);
    }

    #[test]
    fn both_languages_have_every_key_and_the_same_placeholders() {
        let placeholders = |s: &str| {
            let mut found: Vec<String> = s.split('{').skip(1).filter_map(|p| p.split_once('}')).map(|(k, _)| k.to_string()).collect();
            found.sort();
            found
        };
        let keys: std::collections::BTreeSet<_> = STRINGS.iter().map(|s| s.0).collect();
        assert_eq!(keys.len(), STRINGS.len(), "duplicate keys");
        for (key, en, nl) in STRINGS {
            assert!(!en.is_empty() && !nl.is_empty(), "{key}");
            assert_eq!(placeholders(en), placeholders(nl), "{key}");
        }
        assert_eq!(strings(Language::Dutch)["likely"], "Waarschijnlijk {name}");
        assert_eq!(strings(Language::English)["lang"], "en");
    }
}
