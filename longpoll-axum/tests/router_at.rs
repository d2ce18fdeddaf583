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
