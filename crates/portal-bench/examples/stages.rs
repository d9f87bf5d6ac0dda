//! Where the time goes in one record verification, stage by stage (a profiling aid, not part
//! of the table): `cargo run --release -p portal-bench --example stages`. With `ONLY_OPEN=1 N=300`
//! it runs only `envelope::open`, for `valgrind --tool=callgrind`.
use std::hint::black_box;
use std::time::Instant;

use portal_proto::envelope::{self, signing_input};
use portal_proto::record::*;
use portal_tests::fixtures::{TestKey, at, item_id, node};

fn main() {
    let signer = TestKey { name: "stages", seed: [1; 32] }.signer();
    let item = ItemVersion {
        title: "Bộ Y tế hướng dẫn phòng chống dịch bệnh mùa mưa, bản tin số 7".into(),
        summary: "Các hộ gia đình cần loại bỏ nước đọng hằng tuần.".into(),
        content_html: "<p>Theo Cục Y tế dự phòng, số ca mắc sốt xuất huyết tăng trong tháng qua. Người dân cần diệt bọ gậy.</p>".repeat(5),
        categories: vec!["suc-khoe".into()],
        ..portal_tests::fixtures::item(node("bo-y-te"), 7, item_id(1), at(0))
    };
    let s = envelope::sign(&item, &signer).unwrap();
    let b = s.bytes();
    let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(20000);
    if std::env::var_os("ONLY_OPEN").is_some() {
        let pk = signer.public_key();
        let mut trust = envelope::TrustStore::new();
        trust.add("bo-y-te".parse().unwrap(), KeyGrant::pinned(pk));
        for _ in 0..n {
            black_box(envelope::open(black_box(&s), &trust).unwrap());
        }
        return;
    }
    let time = |name: &str, f: &mut dyn FnMut()| {
        let st = Instant::now();
        for _ in 0..n {
            f();
        }
        println!("{name:>24}: {:.2} us", st.elapsed().as_secs_f64() * 1e6 / n as f64);
    };
    println!("record {} bytes", b.len());
    time("check_canonical", &mut || {
        portal_proto::jcs::check_canonical(black_box(b)).unwrap();
    });
    time("Record::from_json", &mut || {
        black_box(Record::from_json(black_box(b)).unwrap());
    });
    let r = Record::from_json(b).unwrap();
    time("validate", &mut || {
        r.validate().unwrap();
    });
    time("parse_record (all 3)", &mut || {
        black_box(envelope::parse_record(black_box(b)).unwrap());
    });
    time("signing_input", &mut || {
        black_box(signing_input(RecordType::Item, black_box(b)));
    });
    let pk = signer.public_key();
    let msg = signing_input(RecordType::Item, b);
    time("PublicKey::verify", &mut || {
        pk.verify(black_box(&msg), s.sig()).unwrap();
    });
    let mut trust = envelope::TrustStore::new();
    trust.add("bo-y-te".parse().unwrap(), KeyGrant::pinned(pk.clone()));
    time("envelope::open", &mut || {
        black_box(envelope::open(black_box(&s), &trust).unwrap());
    });
}
