//! The Vietnamese drafts the suites publish: realistic sizes, categories and HTML.

use serde_json::json;

const PROVINCES: [&str; 8] = [
    "Hà Nội",
    "TP. Hồ Chí Minh",
    "Đà Nẵng",
    "Cần Thơ",
    "Hải Phòng",
    "Thừa Thiên Huế",
    "Nghệ An",
    "Khánh Hòa",
];

/// (categories, title, summary, three paragraphs).
type Topic = ([&'static str; 2], &'static str, &'static str, [&'static str; 3]);

const TOPICS: [Topic; 6] = [
    (
        ["suc-khoe", "y-te-du-phong"],
        "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết mùa mưa",
        "Người dân cần loại bỏ nơi nước đọng, diệt bọ gậy hằng tuần và đến cơ sở y tế ngay khi có dấu hiệu sốt cao liên tục.",
        [
            "Theo Cục Phòng bệnh, số ca mắc sốt xuất huyết trong tháng qua tăng so với cùng kỳ năm trước, tập trung ở các khu dân cư đông đúc và khu nhà trọ.",
            "Bộ Y tế đề nghị chính quyền địa phương tổ chức chiến dịch diệt bọ gậy, phun hóa chất tại các ổ dịch và tăng cường truyền thông để người dân chủ động phòng bệnh.",
            "Người bệnh không tự ý dùng thuốc hạ sốt nhóm aspirin, cần uống đủ nước, theo dõi các dấu hiệu cảnh báo như đau bụng, nôn nhiều, chảy máu chân răng và đến bệnh viện kịp thời.",
        ],
    ),
    (
        ["giao-duc", "thi-cu"],
        "Hướng dẫn tổ chức kỳ thi tốt nghiệp trung học phổ thông",
        "Bộ Giáo dục và Đào tạo công bố lịch thi, quy định về đăng ký dự thi trực tuyến và các mốc thời gian xét công nhận tốt nghiệp.",
        [
            "Thí sinh đăng ký dự thi trực tuyến trên Cổng thông tin của Bộ từ ngày 24 tháng 4; thí sinh tự do có thể đăng ký trực tiếp tại điểm tiếp nhận do sở giáo dục quy định.",
            "Kỳ thi gồm ba bài thi bắt buộc và một bài thi tự chọn; đề thi được xây dựng theo hướng đánh giá năng lực, bám sát chương trình giáo dục phổ thông.",
            "Các sở giáo dục và đào tạo bố trí điểm thi thuận lợi cho thí sinh, bảo đảm an toàn, nghiêm túc, đúng quy chế và hỗ trợ thí sinh có hoàn cảnh khó khăn.",
        ],
    ),
    (
        ["giao-thong", "ha-tang"],
        "Thông xe kỹ thuật đoạn cao tốc Bắc – Nam phía Đông",
        "Bộ Xây dựng thông báo đưa vào khai thác tạm thời đoạn cao tốc mới, giúp rút ngắn thời gian di chuyển giữa các tỉnh miền Trung.",
        [
            "Đoạn tuyến dài hơn 60 km được thiết kế với vận tốc 90 km/h, có bốn làn xe, các trạm dừng nghỉ và hệ thống giao thông thông minh giám sát toàn tuyến.",
            "Trong thời gian khai thác tạm thời, phương tiện lưu thông theo biển báo, không dừng đỗ trên làn dừng khẩn cấp; lực lượng cảnh sát giao thông tăng cường tuần tra.",
            "Chủ đầu tư tiếp tục hoàn thiện các hạng mục phụ trợ và tiếp nhận phản ánh của người dân qua đường dây nóng để kịp thời xử lý các tồn tại.",
        ],
    ),
    (
        ["nong-nghiep", "thoi-tiet"],
        "Chủ động ứng phó hạn hán và xâm nhập mặn vùng Đồng bằng sông Cửu Long",
        "Bộ Nông nghiệp và Môi trường đề nghị các địa phương điều chỉnh lịch thời vụ, tích trữ nước ngọt và vận hành hợp lý hệ thống cống.",
        [
            "Dự báo độ mặn 4‰ có thể xâm nhập sâu 50 đến 65 km vào các cửa sông chính trong đợt triều cường tới, ảnh hưởng đến sản xuất lúa và nước sinh hoạt.",
            "Các địa phương cần rà soát diện tích lúa đông xuân có nguy cơ thiếu nước, hướng dẫn nông dân xuống giống theo khung lịch khuyến cáo và sử dụng giống chịu mặn.",
            "Người dân theo dõi thông tin độ mặn được cập nhật hằng ngày trên cổng thông tin của Bộ và của Đài Khí tượng Thủy văn khu vực.",
        ],
    ),
    (
        ["tai-chinh", "thue"],
        "Triển khai hoàn thuế giá trị gia tăng điện tử cho doanh nghiệp",
        "Bộ Tài chính hướng dẫn doanh nghiệp nộp hồ sơ hoàn thuế qua cổng dịch vụ công, rút ngắn thời gian giải quyết và công khai tiến độ xử lý.",
        [
            "Từ ngày 1 tháng 7, toàn bộ hồ sơ đề nghị hoàn thuế giá trị gia tăng được tiếp nhận và giải quyết bằng phương thức điện tử, kết quả trả về tài khoản của doanh nghiệp.",
            "Cơ quan thuế thực hiện phân loại hồ sơ theo mức độ rủi ro; hồ sơ thuộc diện hoàn trước kiểm tra sau được giải quyết trong thời hạn sáu ngày làm việc.",
            "Doanh nghiệp có vướng mắc liên hệ bộ phận hỗ trợ người nộp thuế của cục thuế địa phương hoặc gửi câu hỏi qua chuyên mục hỏi đáp trực tuyến.",
        ],
    ),
    (
        ["bao-hiem-xa-hoi", "lao-dong"],
        "Điều chỉnh mức lương hưu và trợ cấp bảo hiểm xã hội",
        "Người hưởng lương hưu, trợ cấp bảo hiểm xã hội và trợ cấp hằng tháng được điều chỉnh tăng từ kỳ chi trả tháng tới.",
        [
            "Mức điều chỉnh áp dụng cho cán bộ, công chức, viên chức, người lao động đã nghỉ hưu và người đang hưởng trợ cấp mất sức lao động hằng tháng.",
            "Cơ quan bảo hiểm xã hội các tỉnh, thành phố thực hiện chi trả đúng kỳ, thuận tiện, khuyến khích người hưởng nhận qua tài khoản ngân hàng.",
            "Người hưởng có thể tra cứu mức hưởng mới trên ứng dụng VssID hoặc liên hệ tổng đài hỗ trợ khách hàng để được giải đáp.",
        ],
    ),
];

/// A realistic Vietnamese news draft (about 1.5 KB of JSON), varied by `k`.
pub(crate) fn draft_body(k: usize) -> Vec<u8> {
    let (categories, title, summary, paragraphs) = TOPICS[k % TOPICS.len()];
    let province = PROVINCES[(k / TOPICS.len()) % PROVINCES.len()];
    let body = format!(
        "<p>{}</p><p>{}</p><p>{}</p><p>Thông tin chi tiết được đăng tải trên cổng thông tin điện tử \
         của Ủy ban nhân dân {province}. Mọi ý kiến góp ý, phản ánh của người dân và doanh nghiệp \
         xin gửi về bộ phận một cửa hoặc qua <a href=\"https://dichvucong.gov.vn\">Cổng Dịch vụ \
         công quốc gia</a> để được tiếp nhận và trả lời trong thời hạn quy định.</p>",
        paragraphs[0], paragraphs[1], paragraphs[2]
    );
    let d = json!({
        "kind": "news",
        "language": "vi",
        "title": format!("{title} ({province}, bản tin số {k})"),
        "summary": summary,
        "content_html": body,
        "categories": categories,
    });
    serde_json::to_vec(&d).unwrap_or_default()
}
