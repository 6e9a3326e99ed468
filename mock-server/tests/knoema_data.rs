//! Knoema's data API over real sockets, with the wire shapes the knoema package reads:
//! metadata, dimensions, date ranges, `/api/2.0/data` with its filters and paging, raw data
//! with continuation tokens, pivot, mnemonics, the upload chain, delete and verify, and the
//! package's error conventions (200 + JSON string, 400 + text). Malformed input never gets a 500.

mod knoema_support;

use knoema_support::*;
use mock_server::MockServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn post(server: &MockServer, path: &str, body: Value, auth: Option<String>) -> (StatusCode, String) {
    let mut r = client(server).post(format!("{}{path}", api(server))).json(&body);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let (status, _, text) = knoema_support::body(r.send().await.unwrap()).await;
    (status, text)
}

async fn get(server: &MockServer, path: &str) -> (StatusCode, Value) {
    json(client(server).get(format!("{}{path}", api(server))).send().await.unwrap()).await
}

fn auth() -> Option<String> {
    Some(signed(APP, SECRET, chrono::Utc::now()))
}

#[tokio::test]
async fn metadata_dimension_and_daterange() {
    let server = MockServer::start().await;
    let (status, meta) = get(&server, "/api/1.0/meta/dataset/imfweo2024oct").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["id"], "IMFWEO2024Oct", "ids are case-insensitive");
    assert_eq!(
        meta["dimensions"][0],
        json!({"key": 5000000, "id": "country", "name": "Country", "isGeo": true, "datasetId": "IMFWEO2024Oct"})
    );
    assert_eq!(meta["timeseriesAttributes"][0]["name"], "Notes");
    let settings: Value = serde_json::from_str(meta["settings"].as_str().unwrap()).unwrap();
    assert_eq!(settings["LastUpdate"]["End"], "2024-10-22T09:30:00Z");

    let (_, dim) = get(&server, "/api/1.0/meta/dataset/IMFWEO2024Oct/dimension/country").await;
    assert_eq!(dim["fields"][0]["name"], "id");
    for key in ["key", "name", "displayName", "type", "locale", "baseKey", "isSystemField"] {
        assert!(dim["fields"][1].get(key).is_some(), "the package's knoema.dimension reads field '{key}'");
    }
    assert_eq!(
        dim["items"][1],
        json!({"key": 1000010, "name": "Albania", "level": 1, "hasData": true, "fields": {"id": "ALB", "regionid": "AL"}})
    );
    assert_eq!(dim["items"][0]["hasData"], false);

    let (_, range) = get(&server, "/api/1.0/meta/dataset/COMMODITY2023M/daterange").await;
    assert_eq!(
        range,
        json!({"startDate": "2023-01-01T00:00:00Z", "endDate": "2023-12-01T00:00:00Z", "frequencies": ["M"]})
    );
    let (_, range) = get(&server, "/api/1.0/meta/dataset/POWERPLANTS/daterange").await;
    assert_eq!((range["startDate"].as_str(), range["frequencies"].clone()), (Some("1986-12-01T00:00:00Z"), json!([])));

    for path in
        ["/api/1.0/meta/dataset/NOPE", "/api/1.0/meta/dataset/NOPE/daterange", "/api/1.0/meta/dataset/DEMOSALES"]
    {
        let (status, v) = get(&server, path).await;
        assert_eq!((status, v.as_str()), (StatusCode::OK, Some(NO_DATASET)), "{path}");
    }
    let (status, v) = get(&server, "/api/1.0/meta/dataset/IMFWEO2024Oct/dimension/colour").await;
    assert_eq!(status, StatusCode::OK);
    assert!(v.as_str().unwrap().contains("Dimension 'colour' doesn't exist"));
}

#[tokio::test]
async fn data_v2_filters_values_and_pages() {
    let server = MockServer::start().await;
    let filter =
        json!({"country": "Albania;United States", "Subject": "ngdpd", "timerange": "2019-2020", "separator": ";"});
    let (status, text) = post(&server, "/api/2.0/data?datasetId=IMFWEO2024Oct", filter, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["continuationToken"], Value::Null);
    let series = v["data"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0]["country"], json!({"key": 1000010, "name": "Albania", "id": "ALB", "regionid": "AL"}));
    assert_eq!(series[0]["startDate"], "2019-01-01T00:00:00Z");
    assert_eq!(series[0]["endDate"], "2020-01-01T00:00:00Z");
    assert_eq!(series[0]["values"], json!([15.40, 15.16]));
    assert_eq!(series[0]["timeseriesAttributes"], json!({"Notes": "Estimates start after 2022"}));
    assert_eq!(series[1]["scale"], json!(1_000_000_000.0));

    // Unfiltered: 12 series, 5 a page, then continuation tokens until null.
    let (_, text) = post(&server, "/api/2.0/data?datasetId=IMFWEO2024Oct", json!({}), None).await;
    let mut page: Value = serde_json::from_str(&text).unwrap();
    let mut sizes = vec![page["data"].as_array().unwrap().len()];
    while let Some(token) = page["continuationToken"].as_str().map(str::to_owned) {
        let (status, next) = get(&server, &format!("/api/1.0/data/raw/?continuationToken={token}")).await;
        assert_eq!(status, StatusCode::OK);
        sizes.push(next["data"].as_array().unwrap().len());
        page = next;
        let again = client(&server)
            .get(format!("{}/api/1.0/data/raw/?continuationToken={token}", api(&server)))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a continuation token is used once");
    }
    assert_eq!(sizes, [5, 5, 2]);

    // A missing value inside a selection stays null; timelast counts real values.
    let (_, text) = post(
        &server,
        "/api/2.0/data?datasetId=IMFWEO2024Oct",
        json!({"country": "AFG", "subject": "NGDPD", "timelast": "2"}),
        None,
    )
    .await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"][0]["values"], json!([14.3, 14.5]));
    // Flat datasets answer the details form.
    let (_, text) = post(&server, "/api/2.0/data?datasetId=POWERPLANTS", json!({"fuel": "Solar"}), None).await;
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["columns"][3],
        json!({"id": "capacity", "name": "Capacity (MW)", "dimensionId": null, "index": 3, "type": "Number"})
    );
    assert_eq!(
        v["data"][1],
        json!({"country": "Spain", "fuel": "Solar", "plant": "Nunez de Balboa", "capacity": 500.0, "commissioned": {"value": "2020-04-01T00:00:00Z"}})
    );
}

#[tokio::test]
async fn bad_filters_are_400_text_and_unknown_datasets_200_string() {
    let server = MockServer::start().await;
    let cases = [
        (json!({"country": "Atlantis"}), "Selection for dimension Country contains invalid elements: 'Atlantis'"),
        (json!({"colour": "red"}), "Dimension with id or name colour is not found"),
        (json!({"frequency": "Y"}), "Frequency 'Y' is not valid"),
        (json!({"timerange": "later"}), "timerange 'later' is not valid"),
        (json!({"timelast": 2, "timesince": "2019"}), "Only one parameter should be passed"),
        (json!([1, 2]), "must be a JSON object"),
    ];
    for (filter, message) in cases {
        let r = client(&server)
            .post(format!("{}/api/2.0/data?datasetId=IMFWEO2024Oct", api(&server)))
            .json(&filter)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        let text = r.text().await.unwrap();
        assert!(text.contains(message), "{filter}: {text}");
    }
    let (status, text) = post(&server, "/api/2.0/data?datasetId=NOPE", json!({}), None).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, format!("\"{NO_DATASET}\"").as_str()));
    // Not JSON at all, and too large.
    let r = client(&server)
        .post(format!("{}/api/2.0/data?datasetId=IMFWEO2024Oct", api(&server)))
        .body(vec![0xffu8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = client(&server)
        .post(format!("{}/api/2.0/data?datasetId=IMFWEO2024Oct", api(&server)))
        .body(vec![b' '; 300 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Unknown paths and methods in ASP.NET's words.
    let (status, v) = get(&server, "/api/9.9/nothing").await;
    assert_eq!(
        (status, v["Message"].as_str()),
        (StatusCode::NOT_FOUND, Some("No HTTP resource was found that matches the request URI '/api/9.9/nothing'."))
    );
    let r = client(&server).get(format!("{}/api/2.0/data", api(&server))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(server
        .events()
        .all()
        .iter()
        .all(|e| !matches!(&e.kind, mock_server::EventKind::Exchange(x) if x.status >= 500)));
}

#[tokio::test]
async fn raw_pivot_and_mnemonics() {
    let server = MockServer::start().await;
    let pivot = json!({
        "Dataset": "COMMODITY2023M",
        "Header": [{"DimensionId": "Time", "Members": ["2023M11-2023M12"], "UiMode": "range"}],
        "Stub": [{"DimensionId": "commodity", "Members": [2000030, 2000010]}],
        "Filter": [],
        "Frequencies": ["M"],
    });
    let (status, text) = post(&server, "/api/1.2/data/raw/", pivot.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let raw: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(raw["data"].as_array().unwrap().len(), 2);
    assert_eq!(raw["data"][0]["values"], json!([83.2, 77.9]));
    assert_eq!(raw["dimensionFields"]["commodity"][1]["name"], "ticker");
    let (_, text) = post(&server, "/api/1.2/data/raw/?metadataOnly=true", pivot.clone(), None).await;
    let meta: Value = serde_json::from_str(&text).unwrap();
    assert!(meta["data"][0].get("values").is_none() && meta["data"][0]["endDate"] == "2023-12-01T00:00:00Z");

    let (_, text) = post(&server, "/api/1.0/data/pivot/", pivot, None).await;
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["dataset"], "COMMODITY2023M");
    assert_eq!(p["stub"][0]["members"], json!([2000010, 2000030]));
    assert_eq!(p["data"].as_array().unwrap().len(), 4);
    assert_eq!(
        p["data"][2],
        json!({"commodity": "Gold", "Frequency": "M", "Time": "2023-11-01T00:00:00Z", "Value": 1993.0, "Unit": "U.S. dollars per troy ounce", "Scale": 1.0, "Mnemonics": null})
    );

    let (_, list) = get(&server, "/api/1.0/data/mnemonics?mnemonics=WEO.USA.NGDPD;NOPE").await;
    assert_eq!(list[0]["mnemonics"], "WEO.USA.NGDPD");
    assert_eq!(list[0]["pivot"]["data"].as_array().unwrap().len(), 6);
    assert_eq!(list[0]["pivot"]["data"][0]["Mnemonics"], "WEO.USA.NGDPD");
    assert_eq!(list[1], json!({"mnemonics": "NOPE"}), "no pivot key for an unknown mnemonic");
    let (_, tags) = get(&server, "/api/1.0/frontend/tags").await;
    assert_eq!(tags, json!(["Economy", "Energy", "Commodities"]));
}

#[tokio::test]
async fn upload_chain_delete_and_verify() {
    let server = MockServer::start().await;
    let http = client(&server);
    let root = api(&server);
    let file = "Country,Capacity\r\nGermany,295\r\nFrance,300\r\n";
    let multipart = format!("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"my plants.csv\"\r\n\r\n{file}\r\n--XyZ--\r\n");
    let upload = |auth: Option<String>| {
        let mut r = http
            .post(format!("{root}/api/1.0/upload/post"))
            .header("content-type", "multipart/form-data; boundary=\"XyZ\"")
            .body(multipart.clone());
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    assert_eq!(upload(None).await.unwrap().status(), StatusCode::FORBIDDEN, "anonymous callers may not write");
    let (status, posted) = json(upload(auth()).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (posted["Successful"].as_bool(), posted["Properties"]["Name"].as_str()),
        (Some(true), Some("myplants.csv"))
    );
    let location = posted["Properties"]["Location"].as_str().unwrap().to_owned();

    let (_, verified) = json(
        http.get(format!("{root}/api/1.0/upload/verify?doNotGenerateAdvanceReport=true&filePath={location}"))
            .header("authorization", auth().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(verified["Successful"], true, "{verified}");
    assert_eq!(
        verified["Columns"],
        json!([{"Name": "Country", "Type": "Dimension"}, {"Name": "Capacity", "Type": "Number"}])
    );
    let save = json!({"DatasetId": null, "Name": "My plants", "FileProperty": {"size": 40, "name": "myplants.csv", "location": location, "type": "text/csv"}, "Public": false});
    let (_, text) = post(&server, "/api/1.0/upload/save", save, auth()).await;
    let saved: Value = serde_json::from_str(&text).unwrap();
    let id = saved["DatasetId"].as_str().unwrap().to_owned();
    let (_, st) = json(
        http.get(format!("{root}/api/1.0/upload/status?id={}", saved["Id"]))
            .header("authorization", auth().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((st["status"].as_str(), st["datasetId"].as_str()), (Some("successful"), Some(id.as_str())));

    // Private upload: anonymous callers do not see it, the app does.
    let (_, v) = get(&server, &format!("/api/1.0/meta/dataset/{id}")).await;
    assert_eq!(v.as_str(), Some(NO_DATASET));
    let (_, text) = post(&server, &format!("/api/2.0/data?datasetId={id}"), json!({"Country": "France"}), auth()).await;
    let data: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(data["data"], json!([{"Country": "France", "Capacity": 300.0}]));

    let (status, text) = post(
        &server,
        "/api/1.0/meta/verifydataset",
        json!({"id": id, "publicationDate": "2024-05-01", "source": "s", "refUrl": "u"}),
        auth(),
    )
    .await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, r#"{"errors":[],"status":"successful"}"#));
    let (_, text) =
        post(&server, "/api/1.0/meta/verifydataset", json!({"id": "NOPE", "publicationDate": "2024-05-01"}), auth())
            .await;
    assert!(text.contains("\"status\":\"failed\""));

    let (status, text) = post(&server, &format!("/api/1.0/meta/dataset/{id}/delete"), json!(""), auth()).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "\"successful\""));
    let (status, _) = post(&server, &format!("/api/1.0/meta/dataset/{id}/delete"), json!(""), auth()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A fixture dataset is deleted until the next reset.
    let (status, _) = post(&server, "/api/1.0/meta/dataset/POWERPLANTS/delete", json!(""), auth()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&server, "/api/1.0/meta/dataset/POWERPLANTS").await.1.as_str(), Some(NO_DATASET));
    let written: Vec<String> =
        events(&server, "data.written").iter().map(|e| e["operation_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(written.len(), 4, "{written:?}");

    // Broken uploads answer Successful: false, as the package expects.
    let (_, v) = json(
        http.post(format!("{root}/api/1.0/upload/post"))
            .header("authorization", auth().unwrap())
            .header("content-type", "multipart/form-data; boundary=Q")
            .body("junk")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v["Successful"], false);
}
