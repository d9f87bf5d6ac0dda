//! The hub's HTTP interface: `POST /websub` (subscription requests, SPEC.md §10) and the
//! operators' `GET /api/v1/admin/deliveries`.

use actix_web::{HttpRequest, HttpResponse, web};
use portal_http::ApiError;
use portal_proto::api::error::ErrorCode;
use portal_proto::api::paths;
use portal_publisher::Publisher;

use crate::{Hub, RequestError, SubscribeForm};

/// Register the hub's routes; the [`Hub`] and the [`Publisher`] (for the operators' token)
/// must be in the app's data.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(paths::WEBSUB)
            .app_data(web::FormConfig::default().limit(16 * 1024).error_handler(|e, _| {
                let resp: HttpResponse = ApiError::invalid_request(e.to_string()).into();
                actix_web::error::InternalError::from_response(e, resp).into()
            }))
            .route(web::post().to(websub)),
    )
    .route(paths::ADMIN_DELIVERIES, web::get().to(admin_deliveries));
}

async fn websub(
    publisher: web::Data<Publisher>,
    hub: web::Data<Hub>,
    form: web::Form<SubscribeForm>,
) -> Result<HttpResponse, ApiError> {
    publisher.node.metrics.request();
    match hub.request(form.into_inner()) {
        Ok(()) => Ok(HttpResponse::Accepted().finish()),
        Err(RequestError::Invalid { parameter, reason }) => {
            Err(ApiError::invalid_request(format!("{parameter}: {reason}"))
                .with_parameter(parameter))
        }
        Err(e @ RequestError::Full(_)) => Err(ApiError::new(ErrorCode::HubFull, e.to_string())),
        Err(e @ RequestError::Busy) => Err(ApiError::new(ErrorCode::HubBusy, e.to_string())),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Operators: subscriptions, pending deliveries and dead letters (never the secrets).
async fn admin_deliveries(
    req: HttpRequest,
    publisher: web::Data<Publisher>,
    hub: web::Data<Hub>,
) -> Result<HttpResponse, ApiError> {
    publisher.authorize(&req)?;
    let body = hub.report().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(body))
}
