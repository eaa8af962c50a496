/*
 * hal_target.c - HAL of the product image on the pump board (LM3S6965-class Cortex-M3):
 * SysTick clock, ADC pressure sensor, stepper motor on GPIO port D, radio module on UART0 and
 * a RAM shadow standing in for the EEPROM driver.  On a non-ARM host build the registers are
 * plain memory, so the image links everywhere; it only runs on the target.
 */
#include <string.h>

#include "hal.h"

#ifdef __arm__
#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#else
static volatile uint32_t host_regs[256];
#define REG32(addr) (host_regs[((addr) >> 2) & 0xFFu])
#endif

#define SYSCLK_HZ 12000000u
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define NVIC_ISER0 REG32(0xE000E100u)
#define RCGC0 REG32(0x400FE100u)
#define RCGC1 REG32(0x400FE104u)
#define RCGC2 REG32(0x400FE108u)
#define UART0_DR REG32(0x4000C000u)
#define UART0_FR REG32(0x4000C018u)
#define UART0_IBRD REG32(0x4000C024u)
#define UART0_FBRD REG32(0x4000C028u)
#define UART0_LCRH REG32(0x4000C02Cu)
#define UART0_CTL REG32(0x4000C030u)
#define UART0_IM REG32(0x4000C038u)
#define UART1_DR REG32(0x4000D000u)
#define UART1_FR REG32(0x4000D018u)
#define UART1_IBRD REG32(0x4000D024u)
#define UART1_FBRD REG32(0x4000D028u)
#define UART1_LCRH REG32(0x4000D02Cu)
#define UART1_CTL REG32(0x4000D030u)
#define UART_FR_RXFE 0x10u
#define UART_FR_TXFF 0x20u
#define ADC0_ACTSS REG32(0x40038000u)
#define ADC0_RIS REG32(0x40038004u)
#define ADC0_ISC REG32(0x4003800Cu)
#define ADC0_PSSI REG32(0x40038028u)
#define ADC0_SSFIFO3 REG32(0x400380A8u)
#define GPIOD_DATA REG32(0x400073FCu)
#define GPIOD_DIR REG32(0x40007400u)
#define GPIOD_DEN REG32(0x4000751Cu)
#define MOTOR_STEP 0x01u
#define MOTOR_ENABLE 0x02u
#define MOTOR_FAULT 0x04u
#define MOTOR_STEPS_PER_CU 2u
#define UART0_IRQ 5u
#define RX_FRAME_MAX 36u
#define UI_FRAME_LEN (1u + 2u * HAL_UI_ARGS)

static volatile uint32_t ms_ticks;
static uint8_t rx_buf[RX_FRAME_MAX];
static size_t rx_len;
static volatile size_t rx_ready;
static uint8_t nv_shadow[HAL_NV_SIZE];
static uint8_t ui_buf[UI_FRAME_LEN];
static size_t ui_len;

/*
 * Clocks, 1 ms SysTick, 115200 Bd radio UART with receive interrupt, the keypad controller's
 * UART, ADC, motor port.
 * @req PUMP-SRS-009
 */
void hal_init(void)
{
    RCGC0 |= 0x00010000u; /* ADC0 */
    RCGC1 |= 0x00000003u; /* UART0, UART1 */
    RCGC2 |= 0x00000008u; /* GPIO port D */
    SYST_RVR = SYSCLK_HZ / 1000u - 1u;
    SYST_CVR = 0u;
    SYST_CSR = 0x7u; /* processor clock, interrupt, enable */
    UART0_CTL = 0u;
    UART0_IBRD = 6u; /* 12 MHz / (16 * 115200) = 6.51 */
    UART0_FBRD = 33u;
    UART0_LCRH = 0x60u; /* 8N1 */
    UART0_IM = 0x10u;   /* receive interrupt */
    UART0_CTL = 0x301u; /* RXE, TXE, UARTEN */
    NVIC_ISER0 = 1u << UART0_IRQ;
    UART1_CTL = 0u;
    UART1_IBRD = 6u;
    UART1_FBRD = 33u;
    UART1_LCRH = 0x60u;
    UART1_CTL = 0x301u;
    ADC0_ACTSS = 0x8u; /* sample sequencer 3 */
    GPIOD_DIR = MOTOR_STEP | MOTOR_ENABLE;
    GPIOD_DEN = MOTOR_STEP | MOTOR_ENABLE | MOTOR_FAULT;
    memset(nv_shadow, 0xFF, sizeof nv_shadow);
}

/*
 * One ADC conversion of the line pressure sensor, 10 bits over 0..400 kPa.
 * @req PUMP-SRS-012
 */
uint16_t hal_pressure_read_kpa(void)
{
    uint32_t raw;

    ADC0_PSSI = 0x8u;
    while ((ADC0_RIS & 0x8u) == 0u) {
    }
    raw = ADC0_SSFIFO3 & 0x3FFu;
    ADC0_ISC = 0x8u;
    return (uint16_t)(raw * 400u / 1023u);
}

/*
 * Step the plunger motor; the driver's fault line aborts the delivery.
 * @req PUMP-SRS-025
 */
int hal_motor_deliver(insulin_cu_t amount)
{
    uint32_t steps = (uint32_t)amount * MOTOR_STEPS_PER_CU;
    volatile uint32_t delay;

    GPIOD_DATA = MOTOR_ENABLE;
    while (steps-- > 0u) {
        if (GPIOD_DATA & MOTOR_FAULT) {
            GPIOD_DATA = 0u;
            return -1;
        }
        GPIOD_DATA = MOTOR_ENABLE | MOTOR_STEP;
        for (delay = 0u; delay < 200u; delay++) {
        }
        GPIOD_DATA = MOTOR_ENABLE;
    }
    GPIOD_DATA = 0u;
    return 0;
}

/*
 * @req PUMP-SRS-013
 */
void hal_motor_stop(void)
{
    GPIOD_DATA = 0u;
}

/*
 * Collect radio bytes into a frame: resynchronise on SOF, complete at LEN + 4 bytes.
 * @req PUMP-SRS-015
 */
void hal_uart0_isr(void)
{
    while ((UART0_FR & UART_FR_RXFE) == 0u) {
        uint8_t b = (uint8_t)UART0_DR;

        if (rx_ready != 0u || (rx_len == 0u && b != 0xA5u)) {
            continue; /* previous frame not consumed yet, or hunting for SOF */
        }
        rx_buf[rx_len++] = b;
        if (rx_len >= 2u && (size_t)rx_buf[1] + 4u > RX_FRAME_MAX) {
            rx_len = 0u; /* impossible length: resynchronise */
        } else if (rx_len >= 2u && rx_len == (size_t)rx_buf[1] + 4u) {
            rx_ready = rx_len;
            rx_len = 0u;
        }
    }
}

/*
 * @req PUMP-SRS-015
 */
size_t hal_radio_receive(uint8_t *buf, size_t max)
{
    size_t len = rx_ready;

    if (len == 0u || len > max) {
        return 0u;
    }
    memcpy(buf, rx_buf, len);
    rx_ready = 0u;
    return len;
}

/*
 * Requests of the keypad and display controller on UART1 (polled): the kind, then four
 * big-endian arguments.
 * @req PUMP-SRS-011
 */
int hal_ui_receive(hal_ui_request_t *req)
{
    unsigned i;

    while (ui_len < UI_FRAME_LEN && (UART1_FR & UART_FR_RXFE) == 0u) {
        ui_buf[ui_len++] = (uint8_t)UART1_DR;
    }
    if (ui_len < UI_FRAME_LEN) {
        return 0;
    }
    req->kind = ui_buf[0];
    for (i = 0; i < HAL_UI_ARGS; i++) {
        req->args[i] = (uint16_t)((ui_buf[1u + 2u * i] << 8) | ui_buf[2u + 2u * i]);
    }
    ui_len = 0u;
    return 1;
}

/*
 * @req PUMP-SRS-020
 */
void hal_radio_send(const uint8_t *buf, size_t len)
{
    while (len-- > 0u) {
        while (UART0_FR & UART_FR_TXFF) {
        }
        UART0_DR = *buf++;
    }
}

/*
 * @req PUMP-SRS-024
 */
void hal_systick_isr(void)
{
    ms_ticks++;
}

/*
 * @req PUMP-SRS-024
 */
uint32_t hal_time_ms(void)
{
    return ms_ticks;
}

/*
 * @req PUMP-SRS-021
 */
int hal_nv_read(uint32_t addr, void *buf, size_t len)
{
    if (addr > HAL_NV_SIZE || len > HAL_NV_SIZE - addr) {
        return -1;
    }
    memcpy(buf, &nv_shadow[addr], len);
    return 0;
}

/*
 * @req PUMP-SRS-021
 */
int hal_nv_write(uint32_t addr, const void *buf, size_t len)
{
    if (addr > HAL_NV_SIZE || len > HAL_NV_SIZE - addr) {
        return -1;
    }
    memcpy(&nv_shadow[addr], buf, len);
    return 0;
}
