//! An editor's script: publish an item through a ministry node's HTTP API, then correct it.
//!
//! ```sh
//! cargo run -p portal-examples --example publish -- NODE_URL EDITOR_TOKEN [DRAFT.json]
//! # against `portal demo` (it prints the URL and token of each ministry):
//! cargo run -p portal-examples --example publish -- http://127.0.0.1:8081 <editor token>
//! ```
//!
//! Editors need nothing but HTTP and JSON: `POST /api/v1/items` with
//! `Authorization: Bearer <token>` and a draft (SPEC.md §8, README "running a node"). The node
//! validates the draft (a 400 names every bad field), sanitises its HTML, signs it, appends it
//! to its log and answers `201 {"id", "version", "log_index"}` once the record is durable. A
//! correction is the same request with the item's `id` and an `update` note: version 2, whose
//! signed record points at version 1, so readers see both and what changed.
//!
//! Without `DRAFT.json` a bilingual (Vietnamese, English) announcement is published. Exit
//! status: 0 published and corrected; 1 the node refused (its explanation is printed);
//! 2 usage; 3 the node could not be reached or the draft file read.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

/// The draft published when no file is given.
fn sample_draft() -> Value {
    json!({
        "kind": "announcement",
        "language": "vi",
        "title": "Thông báo tổ chức Hội nghị trực tuyến về chuyển đổi số năm 2027",
        "summary": "Hội nghị trực tuyến toàn ngành về chuyển đổi số diễn ra ngày 15/1/2027, kết nối 63 điểm cầu tỉnh, thành phố.",
        "content_html": "<p>Hội nghị trực tuyến toàn ngành về chuyển đổi số năm 2027 được tổ chức vào <strong>9 giờ ngày 15/1/2027</strong>, kết nối điểm cầu trung ương với 63 điểm cầu tỉnh, thành phố.</p><p>Các đơn vị chuẩn bị báo cáo kết quả năm 2026 và đăng ký phát biểu trước ngày 10/1/2027.</p>",
        "translations": {
            "en": {
                "title": "Online conference on digital transformation in 2027",
                "summary": "A nationwide online conference on digital transformation on 15 January 2027, linking 63 provincial sites.",
                "content_html": "<p>The nationwide online conference on digital transformation in 2027 takes place at <strong>9:00 on 15 January 2027</strong>, linking the central site with 63 provincial sites.</p><p>Units prepare their 2026 reports and register to speak by 10 January 2027.</p>"
            }
        },
        "categories": ["chuyen-doi-so", "thong-bao"]
    })
}

/// Version 2 of `draft` (item `id`): a paragraph added in every language, with the note.
fn correction(draft: &Value, id: &str) -> Value {
    let mut v2 = draft.clone();
    let add = |html: &mut Value, text: &str| {
        let body = html.as_str().unwrap_or_default();
        *html = json!(format!("{body}<p><em>{text}</em></p>"));
    };
    add(
        &mut v2["content_html"],
        "Cập nhật: mọi thắc mắc xin gửi Văn phòng Bộ qua Cổng thông tin điện tử.",
    );
    if let Some(en) = v2.get_mut("translations").and_then(|t| t.get_mut("en")) {
        add(
            &mut en["content_html"],
            "Update: please send questions to the Ministry's Office through the portal.",
        );
    }
    v2["id"] = json!(id);
    v2["update"] =
        json!({"type": "major", "note": "Bổ sung đầu mối liên hệ. / Contact point added."});
    v2
}

enum Failure {
    /// The node answered with an error.
    Refused(String),
    /// Network or file trouble.
    Unreachable(String),
}

async fn publish(
    http: &reqwest::Client,
    node: &str,
    token: &str,
    draft: &Value,
) -> Result<Value, Failure> {
    let url = format!("{node}/api/v1/items");
    let resp = http
        .post(&url)
        .bearer_auth(token)
        .json(draft)
        .send()
        .await
        .map_err(|e| Failure::Unreachable(format!("POST {url}: {e}")))?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| Failure::Unreachable(format!("POST {url}: reading the answer: {e}")))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.as_u16() != 201 {
        // The node's errors are `{"error": {"code", "message", "fields": [{"field", "reason"}]}}`.
        let message = body["error"]["message"].as_str().unwrap_or(&text);
        let mut text = format!("{status}: {message}");
        for f in body["error"]["fields"].as_array().into_iter().flatten() {
            let field = f["field"].as_str().unwrap_or("?");
            text.push_str(&format!("\n  {field}: {}", f["reason"].as_str().unwrap_or("")));
        }
        return Err(Failure::Refused(text));
    }
    if body["id"].as_str().is_none() {
        return Err(Failure::Refused(format!("{status} without an item id: {text}")));
    }
    Ok(body)
}

async fn run(node: &str, token: &str, draft: Value) -> Result<(), Failure> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::Unreachable(e.to_string()))?;
    let v1 = publish(&http, node, token, &draft).await?;
    let id = v1["id"].as_str().unwrap_or_default().to_owned();
    println!("published {id} version {} at log index {}", v1["version"], v1["log_index"]);
    let v2 = publish(&http, node, token, &correction(&draft, &id)).await?;
    println!("corrected {id} version {} at log index {}", v2["version"], v2["log_index"]);
    println!("page:     {node}/items/{id}");
    println!("versions: {node}/api/v1/items/{id}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (node, token) = match (args.first(), args.get(1), args.len()) {
        (Some(n), Some(t), 2 | 3) => (n.trim_end_matches('/').to_owned(), t.clone()),
        _ => {
            eprintln!("usage: publish NODE_URL EDITOR_TOKEN [DRAFT.json]");
            return ExitCode::from(2);
        }
    };
    let draft = match args.get(2) {
        None => sample_draft(),
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(v @ Value::Object(_)) => v,
                Ok(_) | Err(_) => {
                    eprintln!("{path}: not a JSON object (a draft: kind, language, title, …)");
                    return ExitCode::from(2);
                }
            },
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::from(3);
            }
        },
    };
    match run(&node, &token, draft).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(e)) => {
            eprintln!("the node refused: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Unreachable(e)) => {
            eprintln!("{e}");
            ExitCode::from(3)
        }
    }
}
