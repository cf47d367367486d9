//! An HTTP client that retries what is worth retrying (429, 5xx, timeouts, dropped connections)
//! with exponential backoff, honours `Retry-After`, paces API calls, and never lets a URL (which
//! may carry an API key) into an error message.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

pub struct Http {
    client: Client,
    retries: u32,
    /// Minimum time between API calls (not downloads).
    api_interval: Duration,
    last_api_call: Mutex<Option<Instant>>,
    /// Cap on any single wait, so a hostile Retry-After cannot stall the run for hours.
    max_wait: Duration,
}

/// A fetched body and the URL it finally came from (after redirects).
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub final_url: String,
}

impl Http {
    pub fn new(retries: u32, api_interval: Duration, timeout: Duration) -> Result<Self> {
        let client = Client::builder()
            .user_agent(concat!("vlinder/", env!("CARGO_PKG_VERSION"), " (butterfly classifier trainer)"))
            .timeout(timeout)
            .build()?;
        Ok(Self { client, retries, api_interval, last_api_call: Mutex::new(None), max_wait: Duration::from_secs(120) })
    }

    /// GET an API URL and parse JSON, pacing calls by `api_interval`.
    pub fn api_json(&self, url: &str) -> Result<serde_json::Value> {
        {
            let mut last = self.last_api_call.lock().unwrap();
            if let Some(t) = *last {
                let since = t.elapsed();
                if since < self.api_interval {
                    std::thread::sleep(self.api_interval - since);
                }
            }
            *last = Some(Instant::now());
        }
        let fetched = self.get(url)?;
        serde_json::from_slice(&fetched.bytes).map_err(|e| anyhow!("the API answered with something that is not JSON ({e})"))
    }

    /// GET with retries; the whole body is read (a cut-off body is an error and is retried).
    pub fn get(&self, url: &str) -> Result<Fetched> {
        let mut attempt = 0;
        loop {
            let outcome = self.client.get(url).send().map_err(|e| e.without_url());
            let wait = match outcome {
                Ok(response) if response.status().is_success() => {
                    let final_url = response.url().to_string();
                    // A body cut off mid-way is retried like a dropped connection.
                    match read_body(response) {
                        Ok(bytes) => return Ok(Fetched { bytes, final_url }),
                        Err(_) if attempt < self.retries => backoff(attempt),
                        Err(e) => bail!("download failed after {} attempts: {e}", attempt + 1),
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if !retryable || attempt >= self.retries {
                        bail!("the server answered {status}{}", if retryable { format!(" after {} attempts", attempt + 1) } else { String::new() });
                    }
                    retry_after(&response).unwrap_or_else(|| backoff(attempt))
                }
                Err(e) if attempt < self.retries && (e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()) => backoff(attempt),
                Err(e) => bail!("request failed: {e}"),
            };
            std::thread::sleep(wait.min(self.max_wait));
            attempt += 1;
        }
    }
}

fn read_body(response: Response) -> Result<Vec<u8>, reqwest::Error> {
    response.bytes().map(|b| b.to_vec()).map_err(|e| e.without_url())
}

/// 0.5 s, 1 s, 2 s, 4 s … with ±25 % jitter so parallel workers do not retry in lockstep.
fn backoff(attempt: u32) -> Duration {
    let base = 0.5 * 2f64.powi(attempt as i32);
    let jitter = 0.75 + rand::random::<f64>() * 0.5;
    Duration::from_secs_f64(base * jitter)
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs; it falls back to backoff).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
