/*
 * test_cmd.c - wireless command parser: framing, length, CRC, authentication token, replay
 * protection, dispatch and the command handlers.
 */
#include "covguard_test.h"
#include "basal.h"
#include "bolus.h"
#include "cmd.h"
#include "crc16.h"
#include "hal_host.h"
#include "pump.h"

#define TEST_KEY 0x5EC2E7A1u

static uint8_t frame[CMD_MAX_FRAME + 4u];
static uint16_t next_seq;

/* fixture: every test calls it first */
static void setup(void)
{
    hal_init();
    pump_init(PUMP_RESERVOIR_FULL_CU);
    (void)bolus_init(NULL);
    basal_init();
    cmd_init(TEST_KEY);
    next_seq = 1u;
    pump_event(PUMP_EV_PRIME);
    while (pump_prime_step() > 0) {
    }
    pump_event(PUMP_EV_START);
    hal_host_reset();
}

/* what the remote control sends: returns the frame length */
static size_t build(uint32_t key, uint16_t seq, uint8_t opcode, const uint8_t *args,
                    uint8_t nargs)
{
    uint32_t token = cmd_token(key, seq);
    uint16_t crc;
    uint8_t i;

    frame[0] = CMD_SOF;
    frame[1] = (uint8_t)(CMD_HEADER_LEN + nargs);
    frame[2] = (uint8_t)(seq >> 8);
    frame[3] = (uint8_t)seq;
    frame[4] = (uint8_t)(token >> 24);
    frame[5] = (uint8_t)(token >> 16);
    frame[6] = (uint8_t)(token >> 8);
    frame[7] = (uint8_t)token;
    frame[8] = opcode;
    for (i = 0; i < nargs; i++) {
        frame[9u + i] = args[i];
    }
    crc = crc16_ccitt(&frame[1], (size_t)frame[1] + 1u);
    frame[9u + nargs] = (uint8_t)(crc >> 8);
    frame[10u + nargs] = (uint8_t)crc;
    return (size_t)nargs + 11u;
}

static cmd_status_t remote_send(uint8_t opcode, const uint8_t *args, uint8_t nargs)
{
    size_t len = build(TEST_KEY, next_seq++, opcode, args, nargs);

    return cmd_process(frame, len);
}

CG_TEST(token_depends_on_key_and_sequence, "PUMP-SRS-016")
{
    setup();
    CG_ASSERT_EQ_UINT(cmd_token(TEST_KEY, 7u), cmd_token(TEST_KEY, 7u));
    CG_ASSERT_NE_INT(cmd_token(TEST_KEY, 7u), cmd_token(TEST_KEY, 8u));
    CG_ASSERT_NE_INT(cmd_token(TEST_KEY, 7u), cmd_token(TEST_KEY ^ 1u, 7u));
}

CG_TEST(valid_frame_is_accepted_and_executed, "PUMP-SRS-014, PUMP-SRS-015, PUMP-SRS-016, PUMP-SRS-017, PUMP-SRS-018")
{
    setup();
    CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_SUSPEND, NULL, 0u));
    CG_ASSERT_EQ_INT(PUMP_SUSPENDED, pump_state());
}

CG_TEST(frame_without_sof_is_discarded, "PUMP-SRS-015")
{
    size_t len;

    setup();
    len = build(TEST_KEY, 1u, CMD_OP_SUSPEND, NULL, 0u);
    frame[0] = 0x5Au;
    CG_ASSERT_EQ_INT(CMD_ERR_FRAMING, cmd_process(frame, len));
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_state());
}

CG_TEST(frames_of_wrong_length_are_discarded, "PUMP-SRS-015")
{
    static const uint8_t args[CMD_MAX_LEN] = {0};
    size_t len;

    setup();
    len = build(TEST_KEY, 1u, CMD_OP_SUSPEND, NULL, 0u);
    CG_ASSERT_EQ_INT(CMD_ERR_LENGTH, cmd_process(frame, len - 1u)); /* truncated */
    CG_ASSERT_EQ_INT(CMD_ERR_LENGTH, cmd_process(frame, CMD_MIN_FRAME - 1u));
    len = build(TEST_KEY, 1u, CMD_OP_SUSPEND, args, CMD_MAX_LEN - CMD_HEADER_LEN + 1u);
    CG_ASSERT_EQ_INT(CMD_ERR_LENGTH, cmd_process(frame, len)); /* LEN 33 */
    len = build(TEST_KEY, 1u, CMD_OP_SUSPEND, NULL, 0u);
    frame[1] = 8u; /* LEN does not match the received size */
    CG_ASSERT_EQ_INT(CMD_ERR_LENGTH, cmd_process(frame, len));
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_state());
}

CG_TEST(frame_with_bad_crc_is_discarded, "PUMP-SRS-014")
{
    static const uint8_t args[4] = {0x01, 0x2C, 0x00, 0x96}; /* 3.00 U at 150 mg/dL */
    size_t len;

    setup();
    len = build(TEST_KEY, 1u, CMD_OP_BOLUS, args, 4u);
    frame[9] = 0x09u; /* 23.00 U: a corrupted amount */
    CG_ASSERT_EQ_INT(CMD_ERR_CRC, cmd_process(frame, len));
    len = build(TEST_KEY, 1u, CMD_OP_BOLUS, args, 4u);
    frame[len - 1u] ^= 0x80u;
    CG_ASSERT_EQ_INT(CMD_ERR_CRC, cmd_process(frame, len));
    CG_ASSERT_EQ_UINT(0u, hal_host_delivery_count());
}

CG_TEST(command_with_wrong_token_is_rejected, "PUMP-SRS-016")
{
    size_t len;

    setup();
    len = build(0x12345678u, 1u, CMD_OP_SUSPEND, NULL, 0u);
    CG_ASSERT_EQ_INT(CMD_ERR_AUTH, cmd_process(frame, len));
    /* a token recorded for another sequence number */
    len = build(TEST_KEY, 1u, CMD_OP_SUSPEND, NULL, 0u);
    frame[3] = 2u;
    {
        uint16_t crc = crc16_ccitt(&frame[1], len - 3u);
        frame[len - 2u] = (uint8_t)(crc >> 8);
        frame[len - 1u] = (uint8_t)crc;
    }
    CG_ASSERT_EQ_INT(CMD_ERR_AUTH, cmd_process(frame, len));
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_state());
}

CG_TEST(replayed_command_is_rejected, "PUMP-SRS-017")
{
    size_t len;

    setup();
    len = build(TEST_KEY, 5u, CMD_OP_SUSPEND, NULL, 0u);
    CG_ASSERT_EQ_INT(CMD_OK, cmd_process(frame, len));
    CG_ASSERT_EQ_INT(CMD_ERR_REPLAY, cmd_process(frame, len)); /* same frame again */
    len = build(TEST_KEY, 4u, CMD_OP_RESUME, NULL, 0u);
    CG_ASSERT_EQ_INT(CMD_ERR_REPLAY, cmd_process(frame, len)); /* older */
    CG_ASSERT_EQ_INT(PUMP_SUSPENDED, pump_state());
    len = build(TEST_KEY, 6u, CMD_OP_RESUME, NULL, 0u);
    CG_ASSERT_EQ_INT(CMD_OK, cmd_process(frame, len));
}

CG_TEST(sequence_number_wraps_around, "PUMP-SRS-017")
{
    static const uint16_t seqs[] = {0x4000u, 0x8000u, 0xC000u, 0xFFFEu, 0xFFFFu, 0x0000u, 0x0001u};
    size_t i;

    setup();
    for (i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        next_seq = seqs[i];
        CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_STATUS, NULL, 0u));
    }
    next_seq = 0xFFFFu; /* before the wrap: old */
    CG_ASSERT_EQ_INT(CMD_ERR_REPLAY, remote_send(CMD_OP_STATUS, NULL, 0u));
}

CG_TEST(unknown_opcodes_are_rejected, "PUMP-SRS-018")
{
    static const uint8_t unknown[] = {0x00, 0x06, 0x7F, 0x80, 0xFF};
    size_t i;

    setup();
    for (i = 0; i < sizeof unknown; i++) {
        CG_ASSERT_FALSE(cmd_opcode_supported(unknown[i]));
        CG_ASSERT_EQ_INT(CMD_ERR_OPCODE, remote_send(unknown[i], NULL, 0u));
    }
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_state());
}

CG_TEST(dispatch_table_reaches_every_handler, "PUMP-SRS-018")
{
    static const uint8_t args[2] = {0x00, 0x64};
    unsigned op;

    setup();
    CG_ASSERT_TRUE(cmd_opcode_supported(CMD_OP_STATUS));
    CG_ASSERT_TRUE(cmd_opcode_supported(CMD_OP_BOLUS));
    CG_ASSERT_TRUE(cmd_opcode_supported(CMD_OP_SUSPEND));
    CG_ASSERT_TRUE(cmd_opcode_supported(CMD_OP_RESUME));
    CG_ASSERT_TRUE(cmd_opcode_supported(CMD_OP_TEMP_BASAL));
    for (op = 0; op < 256u; op++) {
        if (cmd_opcode_supported((uint8_t)op)) {
            CG_ASSERT_NE_INT(CMD_ERR_OPCODE, remote_send((uint8_t)op, args, sizeof args));
        }
    }
}

CG_TEST(status_report_frame, "PUMP-SRS-020")
{
    const uint8_t *resp;
    size_t len;

    setup();
    CG_ASSERT_EQ_INT(CMD_ERR_ARGS, remote_send(CMD_OP_STATUS, frame, 1u));
    CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_STATUS, NULL, 0u));
    len = hal_host_sent(&resp);
    CG_ASSERT_EQ_UINT(13u, len);
    CG_ASSERT_EQ_UINT(CMD_SOF, resp[0]);
    CG_ASSERT_EQ_UINT(9u, resp[1]);
    CG_ASSERT_EQ_UINT(CMD_OP_STATUS | CMD_RESPONSE_FLAG, resp[2]);
    CG_ASSERT_EQ_UINT(PUMP_DELIVERING, resp[3]);
    CG_ASSERT_EQ_UINT(PUMP_ALARM_NONE, resp[4]);
    CG_ASSERT_EQ_UINT(pump_reservoir(), (uint16_t)((resp[5] << 8) | resp[6]));
    CG_ASSERT_EQ_UINT(0u, resp[7] | resp[8] | resp[9] | resp[10]);
    CG_ASSERT_EQ_UINT(crc16_ccitt(&resp[1], 10u), (uint16_t)((resp[11] << 8) | resp[12]));
}

CG_TEST(remote_bolus_is_delivered, "PUMP-SRS-019")
{
    static const uint8_t args[4] = {0x01, 0x2C, 0x00, 0x96}; /* 3.00 U at 150 mg/dL */
    const uint8_t *resp;

    setup();
    CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_BOLUS, args, 4u));
    CG_ASSERT_EQ_UINT(1u, hal_host_delivery_count());
    CG_ASSERT_EQ_UINT(300u, hal_host_delivery(0));
    CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_STATUS, NULL, 0u));
    (void)hal_host_sent(&resp);
    CG_ASSERT_EQ_UINT(300u, (uint16_t)((resp[9] << 8) | resp[10])); /* insulin on board */
}

CG_TEST(remote_bolus_obeys_limit_and_interlocks, "PUMP-SRS-019")
{
    static const uint8_t too_much[4] = {0x05, 0xDC, 0x00, 0x96}; /* 15.00 U */
    static const uint8_t hypo[4] = {0x00, 0xC8, 0x00, 0x3C};     /* 2.00 U at 60 mg/dL */

    setup();
    CG_ASSERT_EQ_INT(CMD_ERR_REJECTED, remote_send(CMD_OP_BOLUS, too_much, 4u));
    CG_ASSERT_EQ_INT(CMD_ERR_REJECTED, remote_send(CMD_OP_BOLUS, hypo, 4u));
    CG_ASSERT_EQ_INT(CMD_ERR_ARGS, remote_send(CMD_OP_BOLUS, hypo, 3u));
    CG_ASSERT_EQ_UINT(0u, hal_host_delivery_count());
}

CG_TEST(remote_suspend_and_resume, "PUMP-SRS-011")
{
    setup();
    CG_ASSERT_EQ_INT(CMD_ERR_ARGS, remote_send(CMD_OP_SUSPEND, frame, 1u));
    CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_SUSPEND, NULL, 0u));
    CG_ASSERT_EQ_INT(PUMP_SUSPENDED, pump_state());
    CG_ASSERT_EQ_INT(CMD_ERR_ARGS, remote_send(CMD_OP_RESUME, frame, 1u));
    CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_RESUME, NULL, 0u));
    CG_ASSERT_EQ_INT(PUMP_DELIVERING, pump_state());
    pump_event(PUMP_EV_OCCLUSION);
    /* in alarm the alarm must be acknowledged on the pump first */
    CG_ASSERT_EQ_INT(CMD_ERR_REJECTED, remote_send(CMD_OP_SUSPEND, NULL, 0u));
    CG_ASSERT_EQ_INT(CMD_ERR_REJECTED, remote_send(CMD_OP_RESUME, NULL, 0u));
    CG_ASSERT_EQ_INT(PUMP_ALARM, pump_state());
}

CG_TEST(remote_temporary_basal, "PUMP-SRS-008")
{
    static const uint8_t args[3] = {150u, 0x00, 0x3C}; /* 150 % for 60 min */
    static const uint8_t bad[3] = {250u, 0x00, 0x3C};

    setup();
    CG_ASSERT_EQ_INT(CMD_OK, remote_send(CMD_OP_TEMP_BASAL, args, 3u));
    CG_ASSERT_EQ_UINT(120u, basal_active_rate(0u));
    CG_ASSERT_EQ_INT(CMD_ERR_REJECTED, remote_send(CMD_OP_TEMP_BASAL, bad, 3u));
    CG_ASSERT_EQ_INT(CMD_ERR_ARGS, remote_send(CMD_OP_TEMP_BASAL, args, 2u));
}

CG_MAIN()
