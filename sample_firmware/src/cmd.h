/*
 * cmd.h - wireless command interface (remote controller / handset to pump).
 *
 * Frame layout (all multi-byte fields big-endian):
 *
 *   offset  size  field
 *   0       1     SOF 0xA5
 *   1       1     LEN: bytes from SEQ to the end of ARGS (7..32)
 *   2       2     SEQ: sequence number, must increase (replay protection)
 *   4       4     TOKEN: cmd_token(pairing key, SEQ)
 *   8       1     OPCODE
 *   9       n     ARGS (n = LEN - 7)
 *   LEN+2   2     CRC-16/CCITT-FALSE over LEN..ARGS
 */
#ifndef PUMP_CMD_H
#define PUMP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_SOF 0xA5u
#define CMD_HEADER_LEN 7u                     /* SEQ + TOKEN + OPCODE */
#define CMD_MAX_LEN 32u
#define CMD_MIN_FRAME (CMD_HEADER_LEN + 4u)   /* SOF, LEN, header, CRC */
#define CMD_MAX_FRAME (CMD_MAX_LEN + 4u)
#define CMD_RESPONSE_FLAG 0x80u

enum cmd_opcode {
    CMD_OP_STATUS = 0x01,     /* no args */
    CMD_OP_BOLUS = 0x02,      /* amount cU (2), glucose mg/dL (2) */
    CMD_OP_SUSPEND = 0x03,    /* no args */
    CMD_OP_RESUME = 0x04,     /* no args */
    CMD_OP_TEMP_BASAL = 0x05  /* percent (1), duration min (2) */
};

typedef enum {
    CMD_OK = 0,
    CMD_ERR_FRAMING,
    CMD_ERR_LENGTH,
    CMD_ERR_CRC,
    CMD_ERR_AUTH,
    CMD_ERR_REPLAY,
    CMD_ERR_OPCODE,
    CMD_ERR_ARGS,
    CMD_ERR_REJECTED,
    CMD_STATUS_COUNT
} cmd_status_t;

/* rejected frames by reason; read out through the service port */
extern uint16_t cmd_diag_rejects[CMD_STATUS_COUNT];

void cmd_init(uint32_t pairing_key);
uint32_t cmd_token(uint32_t key, uint16_t seq);
bool cmd_opcode_supported(uint8_t opcode);
cmd_status_t cmd_process(const uint8_t *frame, size_t len);

#endif
