/*
 * crc16.c - table-free bitwise CRC-16/CCITT-FALSE.  Small and fast enough for the 32-byte
 * radio frames and the basal profile record.
 */
#include "crc16.h"

#define CRC16_POLY 0x1021u

/*
 * Feed one byte into a running CRC.
 * @req PUMP-SRS-014
 */
uint16_t crc16_update(uint16_t crc, uint8_t byte)
{
    unsigned bit;

    crc ^= (uint16_t)((uint16_t)byte << 8);
    for (bit = 0; bit < 8u; bit++) {
        if (crc & 0x8000u) {
            crc = (uint16_t)((crc << 1) ^ CRC16_POLY);
        } else {
            crc = (uint16_t)(crc << 1);
        }
    }
    return crc;
}

/*
 * CRC of a whole buffer, starting from the standard initial value.
 * @req PUMP-SRS-014
 */
uint16_t crc16_ccitt(const uint8_t *data, size_t len)
{
    uint16_t crc = CRC16_INIT;
    size_t i;

    for (i = 0; i < len; i++) {
        crc = crc16_update(crc, data[i]);
    }
    return crc;
}
