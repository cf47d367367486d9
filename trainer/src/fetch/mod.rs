//! `vlinder fetch`: labelled photos from Flickr (the tutorial's source) or iNaturalist
//! (research-grade, the better-labelled one) into `DIR/<class>/`, with an attribution row per
//! image in `DIR/attribution.csv`. Rerunning resumes: what is on disk is kept and skipped.

mod flickr;
mod http;
mod inaturalist;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};
use vlinder_core::preprocess::{DecodeLimits, decode};

use crate::fsutil::write_atomic;
use crate::output::Output;
use http::Http;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Source {
    Flickr,
    Inaturalist,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum SizeChoice {
    /// Flickr url_t (100 px) / iNaturalist small (240 px).
    Thumbnail,
    /// Flickr url_q (150 px square) / iNaturalist square (75 px).
    Square,
    /// Flickr url_c (800 px) / iNaturalist medium (500 px).
    Medium,
    /// Flickr url_o / iNaturalist original.
    Original,
}

/// One photo a source listed.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoRef {
    pub source: &'static str,
    pub id: String,
    pub url: String,
    pub owner: String,
    pub license: String,
    pub page_url: String,
}

pub struct FetchOptions {
    pub source: Source,
    pub out: PathBuf,
    /// `(class folder, query)`: Flickr free text, or an iNaturalist taxon name.
    pub classes: Vec<(String, String)>,
    pub max_per_class: Option<usize>,
    pub size: SizeChoice,
    /// Flickr licence ids or iNaturalist photo licence codes; `None` = only licences allowing reuse.
    pub licenses: Option<String>,
    pub per_page: u32,
    pub api_base: Option<String>,
    pub api_key: Option<String>,
    pub concurrency: usize,
    pub retries: u32,
    /// Seconds between API calls (Flickr allows 3,600 an hour; iNaturalist asks for ≤ 1 a second).
    pub api_interval: f64,
    pub timeout: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ClassReport {
    pub class: String,
    pub listed: usize,
    pub downloaded: usize,
    pub already_present: usize,
    pub duplicates: usize,
    pub unavailable: usize,
    pub failed: usize,
}

#[derive(Serialize)]
pub struct FetchReport {
    pub source: Source,
    pub classes: Vec<ClassReport>,
    pub errors: Vec<String>,
}

const ATTRIBUTION: &str = "attribution.csv";
const ATTRIBUTION_HEADER: [&str; 9] = ["file", "class", "source", "id", "owner", "license", "page_url", "image_url", "sha256"];

/// Flickr CC BY, CC BY-SA, no known restrictions, US Government, CC0, Public Domain Mark: reuse
/// (including the adaptations augmentation makes) is allowed with attribution.
const FLICKR_REUSABLE: &str = "4,5,7,8,9,10";
const INAT_REUSABLE: &str = "cc0,cc-by,cc-by-sa";

/// Where the Flickr key comes from: `FLICKR_API_KEY`, else `$XDG_CONFIG_HOME/vlinder/flickr_api_key`
/// (default `~/.config/vlinder/flickr_api_key`). Never from the repository, never printed.
pub fn flickr_key_from_environment() -> Option<String> {
    if let Ok(key) = std::env::var("FLICKR_API_KEY") {
        if !key.trim().is_empty() {
            return Some(key.trim().to_string());
        }
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    std::fs::read_to_string(config.join("vlinder/flickr_api_key")).ok().map(|k| k.trim().to_string()).filter(|k| !k.is_empty())
}

pub fn run(opts: &FetchOptions, out: &Output) -> Result<FetchReport> {
    if opts.classes.is_empty() {
        bail!("give at least one --class FOLDER=QUERY");
    }
    let http = Http::new(opts.retries, Duration::from_secs_f64(opts.api_interval), Duration::from_secs_f64(opts.timeout))?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    crate::fsutil::remove_stale_parts(&opts.out);
    let attribution = Attribution::open(&opts.out.join(ATTRIBUTION))?;
    let hashes = Mutex::new(existing_hashes(&opts.out, &attribution)?);
    let mut report = FetchReport { source: opts.source, classes: Vec::new(), errors: Vec::new() };
    for (class, query) in &opts.classes {
        let class_dir = opts.out.join(class);
        std::fs::create_dir_all(&class_dir)?;
        crate::fsutil::remove_stale_parts(&class_dir);
        out.note(format!("{class}: listing {query:?}"));
        let refs = match list(opts, &http, query) {
            Ok(r) => r,
            Err(e) => {
                // A listing failure (network down, bad key) ends this class but not the others.
                report.errors.push(format!("{class}: {e:#}"));
                out.warn(format!("{class}: {e:#}"));
                report.classes.push(ClassReport { class: class.clone(), ..Default::default() });
                continue;
            }
        };
        let class_report = download_all(opts, &http, class, &class_dir, &refs, &attribution, &hashes, out, &mut report.errors);
        report.classes.push(class_report);
    }
    Ok(report)
}

fn list(opts: &FetchOptions, http: &Http, query: &str) -> Result<Vec<PhotoRef>> {
    match opts.source {
        Source::Flickr => {
            let api_key = opts.api_key.clone().or_else(flickr_key_from_environment).context(
                "Flickr needs an API key: set FLICKR_API_KEY or write it to ~/.config/vlinder/flickr_api_key",
            )?;
            let q = flickr::FlickrQuery {
                api_base: opts.api_base.as_deref().unwrap_or("https://api.flickr.com"),
                api_key: &api_key,
                text: query,
                licenses: opts.licenses.as_deref().unwrap_or(FLICKR_REUSABLE),
                size: opts.size,
                per_page: opts.per_page,
            };
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            q.list(http, opts.max_per_class, now)
        }
        Source::Inaturalist => inaturalist::InatQuery {
            api_base: opts.api_base.as_deref().unwrap_or("https://api.inaturalist.org"),
            taxon_name: query,
            photo_licenses: opts.licenses.as_deref().unwrap_or(INAT_REUSABLE),
            size: opts.size,
        }
        .list(http, opts.max_per_class),
    }
}

enum Outcome {
    Downloaded,
    Present,
    Duplicate,
    Unavailable,
}

#[allow(clippy::too_many_arguments)]
fn download_all(
    opts: &FetchOptions,
    http: &Http,
    class: &str,
    dir: &Path,
    refs: &[PhotoRef],
    attribution: &Attribution,
    hashes: &Mutex<HashSet<String>>,
    out: &Output,
    errors: &mut Vec<String>,
) -> ClassReport {
    let bar = out.bar(refs.len() as u64, class);
    let queue = Mutex::new(refs.iter());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..opts.concurrency.max(1) {
            scope.spawn(|| {
                loop {
                    let Some(r) = queue.lock().unwrap().next() else { break };
                    let outcome = download_one(http, class, dir, r, attribution, hashes);
                    bar.inc(1);
                    results.lock().unwrap().push((r.id.clone(), outcome));
                }
            });
        }
    });
    bar.finish_and_clear();
    let mut report = ClassReport { class: class.to_string(), listed: refs.len(), ..Default::default() };
    for (id, outcome) in results.into_inner().unwrap() {
        match outcome {
            Ok(Outcome::Downloaded) => report.downloaded += 1,
            Ok(Outcome::Present) => report.already_present += 1,
            Ok(Outcome::Duplicate) => report.duplicates += 1,
            Ok(Outcome::Unavailable) => report.unavailable += 1,
            Err(e) => {
                report.failed += 1;
                errors.push(format!("{class}/{id}: {e:#}"));
            }
        }
    }
    report
}

fn download_one(http: &Http, class: &str, dir: &Path, r: &PhotoRef, attribution: &Attribution, hashes: &Mutex<HashSet<String>>) -> Result<Outcome> {
    let stem = format!("{}_{}", r.source, sanitize(&r.id));
    if let Some(existing) = ["jpg", "png", "gif", "webp"].iter().map(|e| dir.join(format!("{stem}.{e}"))).find(|p| p.exists()) {
        // Resume: keep it, and make sure it has its attribution row.
        if !attribution.has(&attribution_key(class, &existing)) {
            let bytes = std::fs::read(&existing)?;
            attribution.add(row(class, &existing, r, &sha256(&bytes)))?;
        }
        return Ok(Outcome::Present);
    }
    let fetched = http.get(&r.url)?;
    // Missing sizes and deleted photos redirect to a "photo unavailable" image, with HTTP 200.
    if fetched.final_url.contains("photo_unavailable") {
        return Ok(Outcome::Unavailable);
    }
    // Only images the trainer can read are kept (a cut-off or non-image body is an error).
    decode(&fetched.bytes, &DecodeLimits::default()).map_err(|e| anyhow::anyhow!("not a usable image: {e}"))?;
    let hash = sha256(&fetched.bytes);
    if !hashes.lock().unwrap().insert(hash.clone()) {
        return Ok(Outcome::Duplicate);
    }
    let ext = match ::image::guess_format(&fetched.bytes) {
        Ok(::image::ImageFormat::Png) => "png",
        Ok(::image::ImageFormat::Gif) => "gif",
        Ok(::image::ImageFormat::WebP) => "webp",
        _ => "jpg",
    };
    let path = dir.join(format!("{stem}.{ext}"));
    if let Err(e) = write_atomic(&path, &fetched.bytes) {
        hashes.lock().unwrap().remove(&hash);
        return Err(e);
    }
    attribution.add(row(class, &path, r, &hash))?;
    Ok(Outcome::Downloaded)
}

fn row(class: &str, path: &Path, r: &PhotoRef, hash: &str) -> Vec<String> {
    vec![attribution_key(class, path), class.into(), r.source.into(), r.id.clone(), r.owner.clone(), r.license.clone(), r.page_url.clone(), r.url.clone(), hash.into()]
}

/// The `file` column: `class/file_name`, relative to the fetch folder.
fn attribution_key(class: &str, path: &Path) -> String {
    format!("{class}/{}", path.file_name().unwrap().to_string_lossy())
}

fn sanitize(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes of images already in the folder (from the attribution file, else computed).
fn existing_hashes(dir: &Path, attribution: &Attribution) -> Result<HashSet<String>> {
    let mut hashes: HashSet<String> = attribution.rows.lock().unwrap().values().map(|r| r[8].clone()).collect();
    for class in std::fs::read_dir(dir)?.flatten().filter(|e| e.path().is_dir()) {
        for file in std::fs::read_dir(class.path())?.flatten() {
            let name = attribution_key(&class.file_name().to_string_lossy(), &file.path());
            if crate::dataset::is_image(&file.path()) && !attribution.has(&name) {
                hashes.insert(sha256(&std::fs::read(file.path())?));
            }
        }
    }
    Ok(hashes)
}

/// `attribution.csv`, rewritten atomically after every new row so it always matches the files.
struct Attribution {
    path: PathBuf,
    rows: Mutex<HashMap<String, Vec<String>>>,
}

impl Attribution {
    fn open(path: &Path) -> Result<Self> {
        let mut rows = HashMap::new();
        if path.exists() {
            let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
            for record in reader.records() {
                let record = record?;
                let row: Vec<String> = record.iter().map(str::to_string).collect();
                if row.len() == ATTRIBUTION_HEADER.len() {
                    rows.insert(row[0].clone(), row);
                }
            }
        }
        Ok(Self { path: path.to_path_buf(), rows: Mutex::new(rows) })
    }

    fn has(&self, file: &str) -> bool {
        self.rows.lock().unwrap().contains_key(file)
    }

    fn add(&self, row: Vec<String>) -> Result<()> {
        let mut rows = self.rows.lock().unwrap();
        rows.insert(row[0].clone(), row);
        let mut sorted: Vec<&Vec<String>> = rows.values().collect();
        sorted.sort();
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(ATTRIBUTION_HEADER)?;
        for r in sorted {
            writer.write_record(r)?;
        }
        write_atomic(&self.path, &writer.into_inner()?)
    }
}

impl FetchReport {
    pub fn render(&self) -> String {
        let mut s = format!("{:<24} {:>7} {:>10} {:>8} {:>10} {:>11} {:>7}\n", "class", "listed", "downloaded", "present", "duplicates", "unavailable", "failed");
        for c in &self.classes {
            s += &format!(
                "{:<24} {:>7} {:>10} {:>8} {:>10} {:>11} {:>7}\n",
                c.class, c.listed, c.downloaded, c.already_present, c.duplicates, c.unavailable, c.failed
            );
        }
        for e in &self.errors {
            s += &format!("error: {e}\n");
        }
        s
    }
}
