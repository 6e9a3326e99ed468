//! Checks of IoT Open clients (shared/providers/iotopen.md, the seed iotopen-data-access.txt
//! and IoT Open's MQTT API Specification 2.0).

mod completes_sms_login;
mod history_paged;
mod mqtt_connect_with_key;
mod no_reconnect_storm;
mod payload_format;
mod resubscribes_after_drop;
mod subscribes_within_installations;

use crate::contract::Check;
use crate::contract::EventView;
use crate::contract::Run;

pub fn all() -> Vec<&'static dyn Check> {
    vec![
        &mqtt_connect_with_key::MqttConnectWithKey,
        &subscribes_within_installations::SubscribesWithinInstallations,
        &payload_format::PayloadFormat,
        &no_reconnect_storm::NoReconnectStorm,
        &resubscribes_after_drop::ResubscribesAfterDrop,
        &history_paged::HistoryPaged,
        &completes_sms_login::CompletesSmsLogin,
    ]
}

fn iotopen<'r>(run: &'r Run, kind: &'r str) -> impl Iterator<Item = &'r EventView> {
    run.of_kind(kind).filter(|e| e.provider() == "iotopen")
}
