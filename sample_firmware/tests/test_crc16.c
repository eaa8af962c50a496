/*
 * test_crc16.c - CRC-16/CCITT-FALSE against the catalogue check value and known vectors.
 */
#include "covguard_test.h"
#include "crc16.h"

static const uint8_t check_string[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};

CG_TEST(crc16_check_value_of_123456789, "PUMP-SRS-014")
{
    CG_ASSERT_EQ_UINT(0x29B1u, crc16_ccitt(check_string, sizeof check_string));
}

CG_TEST(crc16_known_vectors, "PUMP-SRS-014")
{
    static const uint8_t zero[] = {0x00};
    static const uint8_t letter_a[] = {'A'};

    CG_ASSERT_EQ_UINT(0xFFFFu, crc16_ccitt(check_string, 0u)); /* empty: the initial value */
    CG_ASSERT_EQ_UINT(0xE1F0u, crc16_ccitt(zero, 1u));
    CG_ASSERT_EQ_UINT(0xB915u, crc16_ccitt(letter_a, 1u));
}

CG_TEST(crc16_bytewise_update_matches_block, "PUMP-SRS-014")
{
    uint16_t crc = CRC16_INIT;
    size_t i;

    for (i = 0; i < sizeof check_string; i++) {
        crc = crc16_update(crc, check_string[i]);
    }
    CG_ASSERT_EQ_UINT(crc16_ccitt(check_string, sizeof check_string), crc);
}

CG_TEST(crc16_detects_every_single_bit_error, "PUMP-SRS-014")
{
    uint8_t msg[sizeof check_string];
    uint16_t good = crc16_ccitt(check_string, sizeof check_string);
    size_t byte;
    unsigned bit;

    for (byte = 0; byte < sizeof msg; byte++) {
        for (bit = 0; bit < 8u; bit++) {
            size_t i;
            for (i = 0; i < sizeof msg; i++) {
                msg[i] = check_string[i];
            }
            msg[byte] ^= (uint8_t)(1u << bit);
            CG_ASSERT_NE_INT(good, crc16_ccitt(msg, sizeof msg));
        }
    }
}

CG_MAIN()
