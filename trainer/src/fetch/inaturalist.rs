//! iNaturalist API v1 `/observations`: research-grade (community-agreed) observations of a taxon
//! with openly licensed photos, walked by `id_above` (no 10,000-record cap) at about one request
//! per second.

use anyhow::{Context, Result};

use super::flickr::encode;
use super::http::Http;
use super::{PhotoRef, SizeChoice};

pub struct InatQuery<'a> {
    pub api_base: &'a str,
    pub taxon_name: &'a str,
    pub photo_licenses: &'a str,
    pub size: SizeChoice,
}

impl InatQuery<'_> {
    fn page_url(&self, id_above: u64) -> String {
        format!(
            "{}/v1/observations?taxon_name={}&quality_grade=research&photos=true&photo_license={}&per_page=200&order_by=id&order=asc&id_above={id_above}",
            self.api_base.trim_end_matches('/'),
            encode(self.taxon_name),
            encode(self.photo_licenses),
        )
    }

    pub fn list(&self, http: &Http, max: Option<usize>) -> Result<Vec<PhotoRef>> {
        let want = max.unwrap_or(usize::MAX);
        let mut refs = Vec::new();
        let mut id_above = 0;
        loop {
            let json = http.api_json(&self.page_url(id_above)).context("iNaturalist /v1/observations")?;
            let results = json["results"].as_array().cloned().unwrap_or_default();
            if results.is_empty() {
                break;
            }
            for obs in &results {
                id_above = id_above.max(obs["id"].as_u64().unwrap_or(0));
                // The first photo only: an observation's photos are near-duplicates.
                let Some(photo) = obs["photos"].as_array().and_then(|p| p.first()) else { continue };
                let Some(url) = photo["url"].as_str() else { continue };
                let user = &obs["user"];
                refs.push(PhotoRef {
                    source: "inaturalist",
                    id: photo["id"].as_u64().map(|i| i.to_string()).unwrap_or_default(),
                    url: resize_url(url, self.size),
                    owner: user["name"].as_str().filter(|n| !n.is_empty()).or(user["login"].as_str()).unwrap_or("").to_string(),
                    license: photo["license_code"].as_str().unwrap_or("").to_string(),
                    page_url: obs["uri"].as_str().map(str::to_string).unwrap_or_else(|| format!("https://www.inaturalist.org/observations/{}", obs["id"])),
                });
                if refs.len() >= want {
                    return Ok(refs);
                }
            }
        }
        Ok(refs)
    }
}

/// iNaturalist photo URLs name their size (`square`, `small`, `medium`, `large`, `original`).
fn resize_url(url: &str, size: SizeChoice) -> String {
    let wanted = match size {
        SizeChoice::Square => "square",
        SizeChoice::Thumbnail => "small",
        SizeChoice::Medium => "medium",
        SizeChoice::Original => "original",
    };
    for name in ["square", "thumb", "small", "medium", "large", "original"] {
        for ext in [".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG"] {
            let pattern = format!("/{name}{ext}");
            if let Some(pos) = url.rfind(&pattern) {
                return format!("{}/{wanted}{ext}{}", &url[..pos], &url[pos + pattern.len()..]);
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_urls_are_resized_by_name() {
        let u = "https://static.inaturalist.org/photos/123/square.jpg?1545";
        assert_eq!(resize_url(u, SizeChoice::Medium), "https://static.inaturalist.org/photos/123/medium.jpg?1545");
        assert_eq!(resize_url("https://x/y/large.png", SizeChoice::Square), "https://x/y/square.png");
    }
}
