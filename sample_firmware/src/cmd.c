/*
 * cmd.c - parser of the wireless command frames: framing, length and CRC checks, the
 * authentication token, replay protection and dispatch through a table of handlers.
 */
#include "cmd.h"

#include "basal.h"
#include "bolus.h"
#include "crc16.h"
#include "hal.h"
#include "pump.h"

#define CMD_OP_FACTORY_BOLUS 0xF7u /* production line: motor dose accuracy check */
#define CMD_SEQ_WINDOW 0x7FFFu     /* a newer sequence number is at most this far ahead */

typedef cmd_status_t (*cmd_handler_fn)(const uint8_t *args, uint8_t nargs);

uint16_t cmd_diag_rejects[CMD_STATUS_COUNT];

static uint32_t pairing_key;
static uint16_t last_seq;

/*
 * Big-endian field of a frame.
 * @req PUMP-SRS-015
 */
static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/*
 * @req PUMP-SRS-016
 */
static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)get_u16(p) << 16) | get_u16(p + 2);
}

/*
 * @req PUMP-SRS-020
 */
static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/*
 * Count a rejected frame for field diagnostics.
 * @req PUMP-SRS-023
 */
static void diag_count(cmd_status_t reason)
{
    cmd_diag_rejects[reason]++;
}

/*
 * Pair with a remote: new key, sequence numbering starts over.
 * @req PUMP-SRS-016, PUMP-SRS-017
 */
void cmd_init(uint32_t key)
{
    pairing_key = key;
    last_seq = 0u;
}

/*
 * Authentication token of a command: the pairing key and the sequence number mixed by four
 * xorshift rounds, so that a token cannot be reused with another sequence number.
 * @req PUMP-SRS-016
 */
uint32_t cmd_token(uint32_t key, uint16_t seq)
{
    uint32_t x = key ^ (((uint32_t)seq << 16) | seq);
    unsigned round;

    for (round = 0; round < 4u; round++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x += key;
    }
    return x;
}

/*
 * Start of frame, total length against the LEN byte.
 * @req PUMP-SRS-015
 */
static cmd_status_t cmd_check_framing(const uint8_t *frame, size_t len)
{
    if (len < CMD_MIN_FRAME || len > CMD_MAX_FRAME) {
        return CMD_ERR_LENGTH;
    }
    if (frame[0] != CMD_SOF) {
        return CMD_ERR_FRAMING;
    }
    if ((size_t)frame[1] + 4u != len) {
        return CMD_ERR_LENGTH;
    }
    return CMD_OK;
}

/*
 * CRC over LEN..ARGS against the two trailing bytes.
 * @req PUMP-SRS-014
 */
static cmd_status_t cmd_check_crc(const uint8_t *frame, size_t len)
{
    if (crc16_ccitt(&frame[1], len - 3u) != get_u16(&frame[len - 2u])) {
        return CMD_ERR_CRC;
    }
    return CMD_OK;
}

/*
 * @req PUMP-SRS-016
 */
static cmd_status_t cmd_check_token(const uint8_t *frame)
{
    if (get_u32(&frame[4]) != cmd_token(pairing_key, get_u16(&frame[2]))) {
        return CMD_ERR_AUTH;
    }
    return CMD_OK;
}

/*
 * Accept only sequence numbers newer than the last accepted one (modulo 2^16).
 * @req PUMP-SRS-017
 */
static cmd_status_t cmd_check_sequence(const uint8_t *frame)
{
    uint16_t ahead = (uint16_t)(get_u16(&frame[2]) - last_seq);

    if (ahead == 0u || ahead > CMD_SEQ_WINDOW) {
        return CMD_ERR_REPLAY;
    }
    last_seq = get_u16(&frame[2]);
    return CMD_OK;
}

/*
 * Report state, alarm, reservoir and insulin on board.
 * @req PUMP-SRS-020
 */
static cmd_status_t cmd_handle_status(const uint8_t *args, uint8_t nargs)
{
    uint8_t resp[13];
    uint32_t iob = bolus_iob(hal_time_ms());

    (void)args;
    if (nargs != 0u) {
        return CMD_ERR_ARGS;
    }
    resp[0] = CMD_SOF;
    resp[1] = 9u;
    resp[2] = CMD_OP_STATUS | CMD_RESPONSE_FLAG;
    resp[3] = (uint8_t)pump_state();
    resp[4] = (uint8_t)pump_alarm();
    put_u16(&resp[5], pump_reservoir());
    put_u16(&resp[7], (uint16_t)(iob >> 16)); /* insulin on board, 4 bytes */
    put_u16(&resp[9], (uint16_t)iob);
    put_u16(&resp[11], crc16_ccitt(&resp[1], 10u));
    hal_radio_send(resp, sizeof resp);
    return CMD_OK;
}

/*
 * Remote bolus: the same limit and interlocks as a bolus on the keypad, never an override.
 * @req PUMP-SRS-019
 */
static cmd_status_t cmd_handle_bolus(const uint8_t *args, uint8_t nargs)
{
    if (nargs != 4u) {
        return CMD_ERR_ARGS;
    }
    if (bolus_deliver(get_u16(&args[0]), get_u16(&args[2]), false) != BOLUS_OK) {
        return CMD_ERR_REJECTED;
    }
    return CMD_OK;
}

/*
 * @req PUMP-SRS-011
 */
static cmd_status_t cmd_handle_suspend(const uint8_t *args, uint8_t nargs)
{
    (void)args;
    if (nargs != 0u) {
        return CMD_ERR_ARGS;
    }
    return pump_event(PUMP_EV_SUSPEND) == PUMP_SUSPENDED ? CMD_OK : CMD_ERR_REJECTED;
}

/*
 * @req PUMP-SRS-011
 */
static cmd_status_t cmd_handle_resume(const uint8_t *args, uint8_t nargs)
{
    (void)args;
    if (nargs != 0u) {
        return CMD_ERR_ARGS;
    }
    return pump_event(PUMP_EV_RESUME) == PUMP_DELIVERING ? CMD_OK : CMD_ERR_REJECTED;
}

/*
 * @req PUMP-SRS-008
 */
static cmd_status_t cmd_handle_temp_basal(const uint8_t *args, uint8_t nargs)
{
    if (nargs != 3u) {
        return CMD_ERR_ARGS;
    }
    return basal_set_temp(args[0], get_u16(&args[1])) == 0 ? CMD_OK : CMD_ERR_REJECTED;
}

/*
 * Factory dose accuracy check: run the motor for the given amount.
 */
static cmd_status_t cmd_factory_bolus(const uint8_t *args, uint8_t nargs)
{
    if (nargs != 2u) {
        return CMD_ERR_ARGS;
    }
    return pump_deliver(get_u16(args)) == PUMP_OK ? CMD_OK : CMD_ERR_REJECTED;
}

static const cmd_handler_fn cmd_handlers[256] = {
    [CMD_OP_STATUS] = cmd_handle_status,
    [CMD_OP_BOLUS] = cmd_handle_bolus,
    [CMD_OP_SUSPEND] = cmd_handle_suspend,
    [CMD_OP_RESUME] = cmd_handle_resume,
    [CMD_OP_TEMP_BASAL] = cmd_handle_temp_basal,
    [CMD_OP_FACTORY_BOLUS] = cmd_factory_bolus,
};

/*
 * @req PUMP-SRS-018
 */
bool cmd_opcode_supported(uint8_t opcode)
{
    return cmd_handlers[opcode] != NULL;
}

/*
 * Check one received frame and execute its command.
 * @req PUMP-SRS-015, PUMP-SRS-018
 */
cmd_status_t cmd_process(const uint8_t *frame, size_t len)
{
    cmd_status_t rc = cmd_check_framing(frame, len);

    if (rc == CMD_OK) {
        rc = cmd_check_crc(frame, len);
    }
    if (rc == CMD_OK) {
        rc = cmd_check_token(frame);
    }
    if (rc == CMD_OK) {
        rc = cmd_check_sequence(frame);
    }
    if (rc == CMD_OK) {
        if (cmd_handlers[frame[8]] == NULL) {
            rc = CMD_ERR_OPCODE;
        } else {
            rc = cmd_handlers[frame[8]](&frame[9], (uint8_t)(frame[1] - CMD_HEADER_LEN));
        }
    }
    if (rc != CMD_OK) {
        diag_count(rc);
    }
    return rc;
}
