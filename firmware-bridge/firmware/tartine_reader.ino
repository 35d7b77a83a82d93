// Tartine reference reader firmware: Arduino (Uno/Nano/Nano Every) + MFRC522.
//
// Documentation of the device side of firmware-bridge/PROTOCOL.md; it is not
// built by the Go tooling. Libraries: MFRC522 (miguelbalboa), SPI.
// Wiring (Uno): MFRC522 SDA→D10, SCK→D13, MOSI→D11, MISO→D12, RST→D9;
// RGB LED on D5 (R), D6 (G), D3 (B) with resistors; piezo buzzer on D4.

#include <SPI.h>
#include <MFRC522.h>

#define PIN_RST 9
#define PIN_SS 10
#define PIN_R 5
#define PIN_G 6
#define PIN_B 3
#define PIN_BUZZ 4

static const uint8_t SOF = 0xA5, VER = 0x01;
static const uint8_t T_CARD_READ = 0x01, T_HEARTBEAT = 0x02, T_ERROR = 0x03;
static const uint8_t T_ACK = 0x81, T_FEEDBACK = 0x82, T_DISPLAY = 0x83;
static const char FW_VERSION[] = "tartine-fw 1.0.0";

MFRC522 rfid(PIN_SS, PIN_RST);

uint32_t bootId;          // random per power-up
uint32_t nextSeq = 1;

// Unacknowledged reads, resent every 500 ms until the bridge acks them.
struct Pending {
  bool used;
  uint32_t seq;
  uint8_t uidLen;
  uint8_t uid[10];
  uint32_t sentAt;
};
static const uint8_t QUEUE = 16;
Pending queue[QUEUE];

// Card debounce: ignore the same UID for 2 s while it stays in the field.
uint8_t lastUid[10];
uint8_t lastUidLen = 0;
uint32_t lastUidAt = 0;

uint16_t crc16(const uint8_t *p, uint8_t n, uint16_t crc = 0xFFFF) {
  while (n--) {
    crc ^= (uint16_t)(*p++) << 8;
    for (uint8_t i = 0; i < 8; i++) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
  }
  return crc;
}

void sendFrame(uint8_t type, const uint8_t *payload, uint8_t len) {
  uint8_t hdr[3] = {VER, type, len};
  uint16_t crc = crc16(hdr, 3);
  crc = crc16(payload, len, crc);
  Serial.write(SOF);
  Serial.write(hdr, 3);
  Serial.write(payload, len);
  Serial.write((uint8_t)(crc >> 8));
  Serial.write((uint8_t)crc);
}

void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

void sendRead(const Pending &r) {
  uint8_t p[20];
  put32(p, bootId);
  put32(p + 4, r.seq);
  p[8] = 0x02;  // ISO 14443A
  p[9] = r.uidLen;
  memcpy(p + 10, r.uid, r.uidLen);
  sendFrame(T_CARD_READ, p, 10 + r.uidLen);
}

void led(uint8_t r, uint8_t g, uint8_t b) { analogWrite(PIN_R, r); analogWrite(PIN_G, g); analogWrite(PIN_B, b); }

void feedback(uint8_t level) {
  switch (level) {
    case 1: led(0, 255, 0); tone(PIN_BUZZ, 2000, 80); break;                                       // ok
    case 2: led(255, 120, 0); tone(PIN_BUZZ, 1500, 80); delay(160); tone(PIN_BUZZ, 1500, 80); break; // warn
    case 3: led(255, 0, 0); tone(PIN_BUZZ, 400, 600); break;                                        // deny
  }
}

// ---- receiving frames from the bridge (same resync rule as the Go decoder) ----
uint8_t rx[70];
uint8_t rxLen = 0;

void dropFirst() { memmove(rx, rx + 1, --rxLen); }

void handleFrame(uint8_t type, const uint8_t *p, uint8_t n) {
  if (type == T_ACK && n == 8 && get32(p) == bootId) {
    uint32_t seq = get32(p + 4);
    for (uint8_t i = 0; i < QUEUE; i++)
      if (queue[i].used && queue[i].seq == seq) queue[i].used = false;
    led(0, 0, 80);  // "recorded" blink until the verdict
  } else if (type == T_FEEDBACK && n == 9) {
    feedback(p[8]);
  } else if (type == T_DISPLAY && n >= 1) {
    // Optional character display: print line p[0] with p[1..n-1] (Latin-1).
  }
}

void pollSerial() {
  while (Serial.available() && rxLen < sizeof(rx)) rx[rxLen++] = Serial.read();
  for (;;) {
    while (rxLen > 0 && rx[0] != SOF) dropFirst();
    if (rxLen < 4) return;
    if (rx[1] != VER || rx[3] > 64) { dropFirst(); continue; }
    uint8_t total = 4 + rx[3] + 2;
    if (rxLen < total) return;
    uint16_t want = (uint16_t)rx[total - 2] << 8 | rx[total - 1];
    if (crc16(rx + 1, total - 3) != want) { dropFirst(); continue; }
    handleFrame(rx[2], rx + 4, rx[3]);
    memmove(rx, rx + total, rxLen - total);
    rxLen -= total;
  }
}

void setup() {
  Serial.begin(115200);
  pinMode(PIN_R, OUTPUT); pinMode(PIN_G, OUTPUT); pinMode(PIN_B, OUTPUT);
  SPI.begin();
  rfid.PCD_Init();
  randomSeed(analogRead(A0) ^ micros());
  bootId = ((uint32_t)random(0xFFFF) << 16) | random(0xFFFF) | 1;
}

uint32_t lastBeat = 0;

void loop() {
  uint32_t now = millis();
  pollSerial();

  // Resend unacknowledged reads, oldest first.
  for (uint8_t i = 0; i < QUEUE; i++)
    if (queue[i].used && now - queue[i].sentAt >= 500) { sendRead(queue[i]); queue[i].sentAt = now; }

  if (now - lastBeat >= 1000) {
    uint8_t p[8 + sizeof(FW_VERSION) - 1];
    put32(p, bootId);
    put32(p + 4, now);
    memcpy(p + 8, FW_VERSION, sizeof(FW_VERSION) - 1);
    sendFrame(T_HEARTBEAT, p, sizeof(p));
    lastBeat = now;
    if (rfid.PCD_ReadRegister(MFRC522::VersionReg) == 0x00) {
      const char msg[] = "\x01MFRC522 not responding";
      sendFrame(T_ERROR, (const uint8_t *)msg, sizeof(msg) - 1);
      rfid.PCD_Init();
    }
  }

  if (!rfid.PICC_IsNewCardPresent() || !rfid.PICC_ReadCardSerial()) return;
  uint8_t n = rfid.uid.size;
  bool same = n == lastUidLen && memcmp(lastUid, rfid.uid.uidByte, n) == 0 && now - lastUidAt < 2000;
  lastUidAt = now;
  if (same) return;
  memcpy(lastUid, rfid.uid.uidByte, n);
  lastUidLen = n;

  for (uint8_t i = 0; i < QUEUE; i++) {
    if (queue[i].used) continue;
    queue[i] = Pending{true, nextSeq++, n, {0}, now};
    memcpy(queue[i].uid, rfid.uid.uidByte, n);
    sendRead(queue[i]);
    return;
  }
  // Queue full: the bridge is gone. No light: the child taps again later.
}
