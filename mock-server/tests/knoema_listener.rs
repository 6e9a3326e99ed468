//! The dedicated listener (docs/services.md#a-services-own-listener): Knoema served at the root of a port of
//! its own by default (on a free port in tests), besides its prefix on the shared listeners
//! and its real Host name; `listen` moves it, gives it TLS or turns it off; a service that does
//! not exist is refused at start.

mod knoema_support;

use knoema_support::*;
use mock_server::MockServer;
use reqwest::StatusCode;

const META: &str = "/api/1.0/meta/dataset/IMFWEO2024Oct";

#[tokio::test]
async fn served_at_the_root_of_its_own_listener_and_under_its_prefix() {
    let server = MockServer::start().await;
    let http = client(&server);
    let root = api(&server);
    assert!(root.starts_with("http://127.0.0.1:") && root.matches('/').count() == 2, "{root}");
    let e = server.endpoints();
    for base in [root.clone(), format!("{}/knoema/api", e.https), format!("{}/knoema/api", e.http)] {
        let (status, v) = json(http.get(format!("{base}{META}")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{base}");
        assert_eq!(v["id"], "IMFWEO2024Oct");
    }
    // The real host name on a shared listener reaches it at the real paths too.
    let (status, v) =
        json(http.get(format!("{}{META}", e.http)).header("host", "knoema.com").send().await.unwrap()).await;
    assert_eq!((status, v["type"].as_str()), (StatusCode::OK, Some("Regular")));
    // The dedicated listener belongs to the service: no admin API, other paths are Knoema's 404.
    let (status, v) = json(http.get(format!("{root}/__admin/health")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["Message"], "No HTTP resource was found that matches the request URI '/__admin/health'.");
    let (status, _) = json(
        http.get(format!("{root}/kalibrate/login/common/discovery/instance"))
            .header("host", "login.microsoftonline.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the Host header does not leave the dedicated listener");
    // Exchanges there are journaled as Knoema's.
    let exchanges = events(&server, "http.exchange");
    assert!(exchanges.iter().any(|x| x["path"] == "/__admin/health" && x["service"] == "api" && x["status"] == 404));
}

#[tokio::test]
async fn listen_moves_it_to_tls_or_turns_it_off() {
    let server = MockServer::builder().listen("knoema.api", "https://127.0.0.1:0").start().await.unwrap();
    let root = api(&server);
    assert!(root.starts_with("https://127.0.0.1:"), "{root}");
    let (status, v) = json(client(&server).get(format!("{root}{META}")).send().await.unwrap()).await;
    assert_eq!((status, v["id"].as_str()), (StatusCode::OK, Some("IMFWEO2024Oct")));
    server.shutdown().await;

    let server = MockServer::builder().listen("knoema.api", "off").start().await.unwrap();
    assert_eq!(
        api(&server),
        format!("{}/knoema/api", server.endpoints().https),
        "without it the service URL is the prefixed one"
    );

    // Any service can be given one, at its real root.
    let server = MockServer::builder().listen("kalibrate.data", "127.0.0.1:0").start().await.unwrap();
    let data = server.url("kalibrate.data");
    let status = client(&server).get(format!("{data}/api/status")).send().await.unwrap().status();
    assert_eq!(status, StatusCode::UNAUTHORIZED, "Kalibrate's own answer at the root of its listener");
}

#[tokio::test]
async fn an_unknown_service_is_refused_at_start() {
    let err = MockServer::builder().listen("knoema.nope", "127.0.0.1:0").start().await.err().expect("refused");
    let text = format!("{err:#}");
    assert!(text.contains("there is no service 'knoema.nope'") && text.contains("knoema.api"), "{text}");
}

#[test]
fn listen_arguments_parse() {
    use mock_server::server::{parse_listen_arg, Listen};
    let (key, listen) = parse_listen_arg("knoema.api=127.0.0.1:8090").unwrap();
    assert_eq!(
        (key.as_str(), listen),
        ("knoema.api", Listen::At { addr: "127.0.0.1:8090".parse().unwrap(), tls: false })
    );
    assert_eq!(
        parse_listen_arg("knoema.api=https://[::1]:0").unwrap().1,
        Listen::At { addr: "[::1]:0".parse().unwrap(), tls: true }
    );
    assert_eq!(parse_listen_arg("knoema.api=off").unwrap().1, Listen::Off);
    assert!(parse_listen_arg("knoema.api").unwrap_err().contains("SERVICE=ADDR"));
    assert!(parse_listen_arg("knoema=127.0.0.1:1").unwrap_err().contains("service key"));
    assert!(parse_listen_arg("knoema.api=localhost").unwrap_err().contains("IP:PORT"));
}
