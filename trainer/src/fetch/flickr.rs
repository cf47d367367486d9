//! `flickr.photos.search` over REST, as the tutorial used (via `flickrapi.walk`), but honouring
//! the 4,000-result cap of any one query by splitting it into upload-date windows.

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::http::Http;
use super::{PhotoRef, SizeChoice};

/// Flickr returns at most this many results for one query, whatever the paging.
pub const RESULT_CAP: u64 = 4000;
/// Flickr's first photos date from 2004.
const EPOCH_START: i64 = 1_072_915_200;

pub struct FlickrQuery<'a> {
    pub api_base: &'a str,
    pub api_key: &'a str,
    pub text: &'a str,
    pub licenses: &'a str,
    pub size: SizeChoice,
    pub per_page: u32,
}

impl FlickrQuery<'_> {
    fn url_field(&self) -> &'static str {
        match self.size {
            SizeChoice::Thumbnail => "url_t",
            SizeChoice::Square => "url_q",
            SizeChoice::Medium => "url_c",
            SizeChoice::Original => "url_o",
        }
    }

    fn page_url(&self, page: u32, window: Option<(i64, i64)>) -> String {
        let mut url = format!(
            "{}/services/rest/?method=flickr.photos.search&api_key={}&text={}&license={}&extras={},license,owner_name&per_page={}&page={page}&sort=date-posted-desc&content_type=1&media=photos&format=json&nojsoncallback=1",
            self.api_base.trim_end_matches('/'),
            encode(self.api_key),
            encode(self.text),
            encode(self.licenses),
            self.url_field(),
            self.per_page.clamp(1, 500),
        );
        if let Some((lo, hi)) = window {
            url += &format!("&min_upload_date={lo}&max_upload_date={hi}");
        }
        url
    }

    /// One page: (photos, total results of the query).
    fn page(&self, http: &Http, page: u32, window: Option<(i64, i64)>) -> Result<(Vec<PhotoRef>, u64, u32)> {
        let json = http.api_json(&self.page_url(page, window)).context("flickr.photos.search")?;
        if json["stat"] != "ok" {
            bail!("Flickr refused the search: {} (code {})", json["message"].as_str().unwrap_or("no message"), json["code"]);
        }
        let photos = &json["photos"];
        let total = number(&photos["total"]);
        let pages = number(&photos["pages"]) as u32;
        let field = self.url_field();
        let refs = photos["photo"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|p| {
                        let url = p[field].as_str()?;
                        let id = string(&p["id"]);
                        let owner = string(&p["owner"]);
                        Some(PhotoRef {
                            source: "flickr",
                            page_url: format!("https://www.flickr.com/photos/{owner}/{id}"),
                            id,
                            url: url.to_string(),
                            owner: p["ownername"].as_str().map(str::to_string).unwrap_or(owner),
                            license: flickr_license_name(&string(&p["license"])),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok((refs, total, pages))
    }

    /// Walks every page until `max` photos are listed. When the query has more results than the
    /// cap, walks upload-date windows that each stay under it.
    pub fn list(&self, http: &Http, max: Option<usize>, now: i64) -> Result<Vec<PhotoRef>> {
        let want = max.unwrap_or(usize::MAX);
        let (first, total, _) = self.page(http, 1, None)?;
        let mut refs = Vec::new();
        if total <= RESULT_CAP || first.len() >= want {
            self.walk(http, None, first, want, &mut refs)?;
        } else {
            let mut windows = vec![(EPOCH_START, now)];
            while let Some((lo, hi)) = windows.pop() {
                if refs.len() >= want {
                    break;
                }
                let (first, total, _) = self.page(http, 1, Some((lo, hi)))?;
                if total > RESULT_CAP && hi - lo > 86_400 {
                    let mid = lo + (hi - lo) / 2;
                    // Newest first, like the unsplit query's sort.
                    windows.push((lo, mid));
                    windows.push((mid + 1, hi));
                    continue;
                }
                self.walk(http, Some((lo, hi)), first, want, &mut refs)?;
            }
        }
        dedup(&mut refs);
        refs.truncate(want);
        Ok(refs)
    }

    fn walk(&self, http: &Http, window: Option<(i64, i64)>, first: Vec<PhotoRef>, want: usize, refs: &mut Vec<PhotoRef>) -> Result<()> {
        let mut page_refs = first;
        let mut page = 1;
        loop {
            let empty = page_refs.is_empty();
            refs.extend(page_refs);
            if empty || refs.len() >= want || u64::from(page) * u64::from(self.per_page) >= RESULT_CAP {
                return Ok(());
            }
            page += 1;
            let (next, _, pages) = self.page(http, page, window)?;
            if page > pages.max(1) {
                return Ok(());
            }
            page_refs = next;
        }
    }
}

fn dedup(refs: &mut Vec<PhotoRef>) {
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| seen.insert(r.id.clone()));
}

/// Flickr sends numbers as numbers or strings depending on the field.
fn number(v: &Value) -> u64 {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(0)
}

fn string(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

/// Licence ids of `flickr.photos.licenses.getInfo`.
pub fn flickr_license_name(id: &str) -> String {
    match id {
        "0" => "All Rights Reserved",
        "1" => "CC BY-NC-SA 2.0",
        "2" => "CC BY-NC 2.0",
        "3" => "CC BY-NC-ND 2.0",
        "4" => "CC BY 2.0",
        "5" => "CC BY-SA 2.0",
        "6" => "CC BY-ND 2.0",
        "7" => "No known copyright restrictions",
        "8" => "United States Government Work",
        "9" => "CC0 1.0",
        "10" => "Public Domain Mark 1.0",
        other => return format!("flickr licence {other}"),
    }
    .to_string()
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
