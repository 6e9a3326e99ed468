//! IoT Open's registration: its profile (`profile.rs`) and its checks, one rule per file
//! (docs/providers/iotopen.md, after IoT Open's data access page and its MQTT API
//! Specification 2.0).

mod completes_sms_login;
mod history_paged;
mod journal;
mod mqtt_connect_with_key;
mod no_reconnect_storm;
mod payload_format;
mod profile;
mod resubscribes_after_drop;
mod subscribes_within_installations;

use crate::contract::Provider;

pub const PROVIDER: Provider = Provider {
    profile: profile::PROFILE,
    checks: &[
        &mqtt_connect_with_key::MqttConnectWithKey,
        &subscribes_within_installations::SubscribesWithinInstallations,
        &payload_format::PayloadFormat,
        &no_reconnect_storm::NoReconnectStorm,
        &resubscribes_after_drop::ResubscribesAfterDrop,
        &history_paged::HistoryPaged,
        &completes_sms_login::CompletesSmsLogin,
    ],
};
