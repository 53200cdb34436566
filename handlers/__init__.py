"""Pure careline domain code: no Kafka, Faust, database or Twilio imports here."""
