//! `vlinder fetch` against fake Flickr and iNaturalist servers on 127.0.0.1 that answer in the real
//! APIs' JSON shapes, with real JPEG bodies and every fault the client must survive.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::*;

/// What the fake server sends back.
enum Reply {
    Body { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Declares `declared` bytes, sends `body`, closes.
    Truncated { declared: usize, body: Vec<u8> },
}

fn json_reply(value: serde_json::Value) -> Reply {
    Reply::Body { status: 200, headers: vec![("Content-Type".into(), "application/json".into())], body: value.to_string().into_bytes() }
}

fn jpeg_reply(body: Vec<u8>) -> Reply {
    Reply::Body { status: 200, headers: vec![("Content-Type".into(), "image/jpeg".into())], body }
}

fn status(code: u16, headers: Vec<(String, String)>) -> Reply {
    Reply::Body { status: code, headers, body: b"{}".to_vec() }
}

type Handler = dyn Fn(&str, &HashMap<String, String>, usize) -> Reply + Send + Sync;

/// A tiny HTTP/1.1 server. The handler gets the path, the query and how many times this exact
/// path+query was requested before. Returns the base URL and the request log.
fn serve(handler: Arc<Handler>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let log2 = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handler, log, seen) = (handler.clone(), log2.clone(), seen.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, &*handler, &log, &seen);
            });
        }
    });
    (base, log)
}

fn handle(mut stream: TcpStream, handler: &Handler, log: &Mutex<Vec<String>>, seen: &Mutex<HashMap<String, usize>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    log.lock().unwrap().push(target.clone());
    let count = {
        let mut seen = seen.lock().unwrap();
        let c = seen.entry(target.clone()).or_insert(0);
        *c += 1;
        *c - 1
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query: HashMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect();
    match handler(path, &query, count) {
        Reply::Body { status, headers, body } => {
            let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (k, v) in headers {
                head += &format!("{k}: {v}\r\n");
            }
            stream.write_all(head.as_bytes())?;
            stream.write_all(b"\r\n")?;
            stream.write_all(&body)?;
        }
        Reply::Truncated { declared, body } => {
            stream.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nContent-Type: image/jpeg\r\nConnection: close\r\n\r\n").as_bytes())?;
            stream.write_all(&body)?;
        }
    }
    stream.flush()?;
    // Close our side: a truncated body ends here, mid-image.
    stream.shutdown(std::net::Shutdown::Write)

}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn placeholder_png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(100, 75, image::Rgb([200, 200, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Flickr `photos.search` page of photos with ids `ids`, each with a url_q on `base`.
fn flickr_page(base: &str, page: u64, pages: u64, total: u64, ids: &[&str]) -> serde_json::Value {
    serde_json::json!({
        "photos": {
            "page": page, "pages": pages, "perpage": ids.len(), "total": total.to_string(),
            "photo": ids.iter().map(|id| serde_json::json!({
                "id": id, "owner": "12345678@N00", "secret": "abcdef", "server": "65535", "farm": 66,
                "title": format!("meadow brown {id}"), "ispublic": 1, "isfriend": 0, "isfamily": 0,
                "license": "4", "ownername": "Jane Doe",
                "url_q": format!("{base}/img/{id}.jpg"), "height_q": 150, "width_q": 150
            })).collect::<Vec<_>>()
        },
        "stat": "ok"
    })
}

#[test]
fn flickr_fetch_survives_every_fault_and_resumes() {
    let base_cell: Arc<Mutex<String>> = Arc::default();
    let b = base_cell.clone();
    let handler: Arc<Handler> = Arc::new(move |path, q, count| {
        let base = b.lock().unwrap().clone();
        match path {
            "/services/rest/" => {
                assert_eq!(q["method"], "flickr.photos.search");
                assert_eq!(q["api_key"], "SECRET-KEY-123");
                assert_eq!(q["format"], "json");
                assert_eq!(q["license"], "4,5,7,8,9,10", "only reusable licences by default");
                assert!(q["extras"].contains("url_q"));
                if q["text"] == "broken search" {
                    return status(500, vec![]);
                }
                match q["page"].as_str() {
                    "1" => json_reply(flickr_page(&base, 1, 2, 7, &["ok1", "ok2", "flaky429", "err500"])),
                    "2" => json_reply(flickr_page(&base, 2, 2, 7, &["truncated", "gone", "dup"])),
                    _ => json_reply(flickr_page(&base, 3, 2, 7, &[])),
                }
            }
            "/img/ok1.jpg" => jpeg_reply(photo(0, 1, 64)),
            "/img/ok2.jpg" => jpeg_reply(photo(0, 2, 64)),
            "/img/dup.jpg" => jpeg_reply(photo(0, 1, 64)),
            "/img/flaky429.jpg" if count == 0 => status(429, vec![("Retry-After".into(), "1".into())]),
            "/img/flaky429.jpg" => jpeg_reply(photo(0, 3, 64)),
            "/img/err500.jpg" if count == 0 => status(500, vec![]),
            "/img/err500.jpg" => jpeg_reply(photo(0, 4, 64)),
            "/img/truncated.jpg" => {
                let full = photo(0, 5, 64);
                Reply::Truncated { declared: full.len(), body: full[..full.len() / 2].to_vec() }
            }
            "/img/gone.jpg" => Reply::Body {
                status: 302,
                headers: vec![("Location".into(), format!("{base}/images/en-us/photo_unavailable_q.png"))],
                body: Vec::new(),
            },
            "/images/en-us/photo_unavailable_q.png" => Reply::Body { status: 200, headers: vec![], body: placeholder_png() },
            _ => status(404, vec![]),
        }
    });
    let (base, log) = serve(handler);
    *base_cell.lock().unwrap() = base.clone();
    let dir = temp_dir("flickr");
    let out_dir = dir.join("photos");
    let args = [
        "fetch", "--source", "flickr", "--out", s(&out_dir), "--api-base", &base, "--size", "square",
        "--class", "maniola_jurtina=meadow brown butterfly", "--class", "pyronia_tithonus=broken search",
        "--per-page", "4", "--api-interval", "0", "--retries", "2", "--concurrency", "1", "--json",
    ];
    let env = [("FLICKR_API_KEY", "SECRET-KEY-123")];
    let first = vlinder_env(&args, &env);
    let stdout = String::from_utf8_lossy(&first.stdout).to_string();
    let stderr = String::from_utf8_lossy(&first.stderr).to_string();
    assert!(!stdout.contains("SECRET-KEY-123") && !stderr.contains("SECRET-KEY-123"), "the API key leaked:\n{stdout}\n{stderr}");
    assert_eq!(first.status.code(), Some(2), "errors make the exit status 2:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mj = &report["classes"][0];
    assert_eq!(mj["listed"], 7);
    assert_eq!(mj["downloaded"], 4, "ok1, ok2, and the 429 and 500 ones after a retry: {mj}");
    assert_eq!(mj["duplicates"], 1);
    assert_eq!(mj["unavailable"], 1);
    assert_eq!(mj["failed"], 1, "the truncated body");
    assert!(report["errors"].to_string().contains("pyronia_tithonus"), "the broken class is reported");

    let mut files: Vec<String> = std::fs::read_dir(out_dir.join("maniola_jurtina")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["flickr_err500.jpg", "flickr_flaky429.jpg", "flickr_ok1.jpg", "flickr_ok2.jpg"]);
    let mut csv = csv::Reader::from_path(out_dir.join("attribution.csv")).unwrap();
    assert_eq!(csv.headers().unwrap().iter().collect::<Vec<_>>(), ["file", "class", "source", "id", "owner", "license", "page_url", "image_url", "sha256"]);
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4);
    let ok1 = rows.iter().find(|r| &r[3] == "ok1").unwrap();
    assert_eq!(&ok1[0], "maniola_jurtina/flickr_ok1.jpg");
    assert_eq!(&ok1[4], "Jane Doe");
    assert_eq!(&ok1[5], "CC BY 2.0");
    assert_eq!(&ok1[6], "https://www.flickr.com/photos/12345678@N00/ok1");
    // The 429 was retried (after its Retry-After) and the 500 too.
    let requests = log.lock().unwrap().clone();
    assert_eq!(requests.iter().filter(|r| r.as_str() == "/img/flaky429.jpg").count(), 2);
    assert_eq!(requests.iter().filter(|r| r.as_str() == "/img/truncated.jpg").count(), 3, "1 try + 2 retries");

    // Resume: nothing already on disk is fetched again, nothing is lost.
    let before = requests.len();
    let second = vlinder_env(&args, &env);
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["classes"][0]["already_present"], 4);
    assert_eq!(report["classes"][0]["downloaded"], 0);
    let again: Vec<String> = log.lock().unwrap()[before..].to_vec();
    assert!(!again.iter().any(|r| r.starts_with("/img/ok")), "{again:?}");
    assert_eq!(csv::Reader::from_path(out_dir.join("attribution.csv")).unwrap().records().count(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flickr_splits_queries_over_the_4000_result_cap_by_upload_date() {
    let base_cell: Arc<Mutex<String>> = Arc::default();
    let b = base_cell.clone();
    let handler: Arc<Handler> = Arc::new(move |path, q, _| {
        let base = b.lock().unwrap().clone();
        match path {
            "/services/rest/" => match (q.get("min_upload_date"), q["page"].as_str()) {
                // The whole query: 9,000 results, more than Flickr will page through.
                (None, _) => json_reply(flickr_page(&base, 1, 90, 9000, &["a1"])),
                // Any date window: small enough.
                (Some(lo), "1") => json_reply(flickr_page(&base, 1, 1, 1, &[&format!("w{lo}")])),
                _ => json_reply(flickr_page(&base, 2, 1, 1, &[])),
            },
            p if p.starts_with("/img/") => jpeg_reply(photo(1, p.bytes().map(u32::from).fold(7, |h, b| h.wrapping_mul(31) ^ b), 32)),
            _ => status(404, vec![]),
        }
    });
    let (base, log) = serve(handler);
    *base_cell.lock().unwrap() = base.clone();
    let dir = temp_dir("flickr-cap");
    let out = vlinder_env(
        &["fetch", "--source", "flickr", "--out", s(&dir), "--api-base", &base, "--size", "square", "--class", "x=butterfly", "--max-per-class", "4500", "--api-interval", "0", "--quiet"],
        &[("FLICKR_API_KEY", "k")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let windows = log.lock().unwrap().iter().filter(|r| r.contains("min_upload_date")).count();
    assert!(windows >= 1, "date windows were queried");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flickr_without_a_key_says_where_to_put_one() {
    let dir = temp_dir("nokey");
    let out = vlinder_env(
        &["fetch", "--source", "flickr", "--out", s(&dir), "--api-base", "http://127.0.0.1:9", "--class", "x=y"],
        &[("FLICKR_API_KEY", ""), ("XDG_CONFIG_HOME", s(&dir)), ("HOME", s(&dir))],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("FLICKR_API_KEY"));
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inaturalist_walks_research_grade_observations_by_id() {
    let base_cell: Arc<Mutex<String>> = Arc::default();
    let b = base_cell.clone();
    let handler: Arc<Handler> = Arc::new(move |path, q, _| {
        let base = b.lock().unwrap().clone();
        let obs = |id: u64| {
            serde_json::json!({
                "id": id, "uri": format!("https://www.inaturalist.org/observations/{id}"), "quality_grade": "research",
                "taxon": {"name": "Pyronia tithonus", "rank": "species"},
                "user": {"login": "vlinderaar", "name": ""},
                "photos": [{"id": id * 10, "license_code": "cc-by", "attribution": "(c) vlinderaar, some rights reserved (CC BY)",
                             "url": format!("{base}/photos/{}/square.jpg", id * 10)}]
            })
        };
        match path {
            "/v1/observations" => {
                assert_eq!(q["taxon_name"], "Pyronia tithonus");
                assert_eq!(q["quality_grade"], "research");
                assert_eq!(q["photo_license"], "cc0,cc-by,cc-by-sa");
                assert_eq!(q["order_by"], "id");
                let ids: Vec<u64> = match q["id_above"].as_str() {
                    "0" => vec![101, 102, 103],
                    "103" => vec![250, 251],
                    _ => vec![],
                };
                json_reply(serde_json::json!({"total_results": 5, "page": 1, "per_page": 200, "results": ids.into_iter().map(obs).collect::<Vec<_>>()}))
            }
            p if p.ends_with("/medium.jpg") => jpeg_reply(photo(1, p.bytes().map(u32::from).fold(7, |h, b| h.wrapping_mul(31) ^ b), 64)),
            _ => status(404, vec![]),
        }
    });
    let (base, log) = serve(handler);
    *base_cell.lock().unwrap() = base.clone();
    let dir = temp_dir("inat");
    let report = json(&["fetch", "--source", "inaturalist", "--out", s(&dir), "--api-base", &base, "--class", "pyronia_tithonus=Pyronia tithonus", "--api-interval", "0"]);
    assert_eq!(report["classes"][0]["listed"], 5);
    assert_eq!(report["classes"][0]["downloaded"], 5);
    let pages: Vec<String> = log.lock().unwrap().iter().filter(|r| r.starts_with("/v1/")).cloned().collect();
    assert_eq!(pages.len(), 3, "id_above 0, 103, 251: {pages:?}");
    assert!(pages[1].contains("id_above=103") && pages[2].contains("id_above=251"));
    let rows: Vec<csv::StringRecord> = csv::Reader::from_path(dir.join("attribution.csv")).unwrap().records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[0][2], "inaturalist");
    assert_eq!(&rows[0][4], "vlinderaar");
    assert_eq!(&rows[0][5], "cc-by");
    assert_eq!(&rows[0][6], "https://www.inaturalist.org/observations/101");
    assert!(rows[0][7].ends_with("/1010/medium.jpg"), "the medium size is requested");
    std::fs::remove_dir_all(&dir).unwrap();
}
