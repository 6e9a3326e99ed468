"""Well-behaved IoT Open client on paho-mqtt and requests: the API key as MQTT password,
subscriptions under its own installations renewed on every connect, a refused CONNACK taken
as final, values as {timestamp, value}, the history read page by page, the SMS login step
completed. All of it lives in common.IotOpenClient.
"""
import common

if __name__ == "__main__":
    common.main(common.IotOpenClient)
