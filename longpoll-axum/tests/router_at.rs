//! `router_at` answers the protocol under its base, like `router` nested there, and leaves
//! other paths to the app.

use axum::Router;
use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use longpoll_axum::LongPoll;
use tower::ServiceExt;

async fn call(app: &Router, method: &str, uri: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, cache, String::from_utf8_lossy(&body).into_owned())
}

/// Opens a session under `base` and closes it again; an unknown id is the protocol's `404`.
async fn serves_the_protocol_under(app: &Router, base: &str) {
    let (status, cache, json) = call(app, "POST", base).await;
    assert_eq!(
        (status, cache.as_deref()),
        (StatusCode::CREATED, Some("no-store")),
        "{json}"
    );
    let id = json
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the open answer has an id");
    let session = format!("{}/{id}", base.trim_end_matches('/'));
    assert_eq!(
        call(app, "DELETE", &session).await.0,
        StatusCode::NO_CONTENT
    );
    let unknown = format!("{}/{}", base.trim_end_matches('/'), "0".repeat(32));
    let (status, cache, _) = call(app, "GET", &format!("{unknown}?ack=0")).await;
    assert_eq!(
        (status, cache.as_deref()),
        (StatusCode::NOT_FOUND, Some("no-store"))
    );
}

#[tokio::test]
async fn router_at_serves_under_its_base_and_nowhere_else() {
    let app = Router::new()
        .merge(longpoll_axum::router_at(
            "/longpoll/",
            LongPoll::default().mount(|_| async {}),
        ))
        .route("/other", axum::routing::get(|| async { "mine" }));
    serves_the_protocol_under(&app, "/longpoll").await;
    // `{base}/` opens too (PROTOCOL.md §2.1).
    assert_eq!(
        call(&app, "POST", "/longpoll/").await.0,
        StatusCode::CREATED
    );
    assert_eq!(call(&app, "GET", "/other").await.2, "mine");
    // Outside the base: axum's own 404, not the protocol's.
    let (status, cache, _) = call(&app, "POST", "/longpollx").await;
    assert_eq!((status, cache), (StatusCode::NOT_FOUND, None));
}

#[tokio::test]
async fn router_at_the_root_and_router_nested_serve_alike() {
    let root = longpoll_axum::router_at("/", LongPoll::default().mount(|_| async {}));
    serves_the_protocol_under(&root, "/").await;
    let nested = Router::new().nest(
        "/longpoll",
        longpoll_axum::router(LongPoll::default().mount(|_| async {})),
    );
    serves_the_protocol_under(&nested, "/longpoll").await;
}

/// Writes the route axum matched into an `x-matched` response header, and the path
/// parameters it decoded into `x-params`.
async fn record_routing(
    request: Request<Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::RequestExt;
    let mut request = request;
    let matched = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_default();
    let params = match request
        .extract_parts::<axum::extract::RawPathParams>()
        .await
    {
        Ok(params) => params
            .iter()
            .map(|(key, _)| key)
            .collect::<Vec<_>>()
            .join(","),
        Err(rejection) => format!("rejected: {rejection}"),
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("x-matched", matched.parse().unwrap());
    headers.insert("x-params", params.parse().unwrap());
    response
}

/// axum decodes no path parameter for a session path: the wildcard below the base is named
/// like axum's nest tail, which it skips. Should axum change that, this fails: the saving is
/// gone (the protocol still works).
#[tokio::test]
async fn axum_decodes_no_path_parameter_for_a_session_path() {
    let app = Router::new()
        .merge(longpoll_axum::router_at(
            "/longpoll",
            LongPoll::default().mount(|_| async {}),
        ))
        .route_layer(axum::middleware::from_fn(record_routing));
    let unknown = format!("/longpoll/{}?ack=0", "0".repeat(32));
    let request = Request::builder().uri(unknown).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let header = |name| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(
        header("x-matched"),
        "/longpoll/{*__private__axum_nest_tail_param_session}"
    );
    assert_eq!(header("x-params"), "", "decoded path parameters");
}
